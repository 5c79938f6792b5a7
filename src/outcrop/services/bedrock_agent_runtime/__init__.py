"""Agents for Amazon Bedrock Runtime (`bedrock-agent-runtime`): Retrieve, RetrieveAndGenerate, Rerank."""
