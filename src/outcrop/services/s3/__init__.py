"""Amazon S3 on the local object store."""
