"""KMS's domain: customer master keys kept in SQLite, their material wrapped by the server's master key."""
