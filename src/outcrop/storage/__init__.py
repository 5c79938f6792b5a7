"""State behind Protocols: the object store (S3) and the log store (CloudWatch Logs), embedded by default."""
