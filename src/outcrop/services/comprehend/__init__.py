"""Amazon Comprehend on the local NLP models."""
