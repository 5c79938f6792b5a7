"""Agents for Amazon Bedrock (`bedrock-agent`): knowledge bases and their data sources (provider.py)."""
