"""The audit trail's domain: the append-only log of API calls, and trails delivering it to S3."""
