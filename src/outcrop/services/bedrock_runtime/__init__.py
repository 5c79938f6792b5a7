"""Amazon Bedrock Runtime: InvokeModel, Converse, their streams, CountTokens, async invokes."""
