"""Amazon Bedrock's control plane: foundation models, inference profiles, batch inference jobs."""
