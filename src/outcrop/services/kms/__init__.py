"""AWS KMS: symmetric keys, aliases, grants, tags and the cryptographic operations."""
