"""Amazon CloudWatch Logs on the SQLite log store."""
