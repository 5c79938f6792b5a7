"""AWS CloudTrail: every API call recorded, looked up, and delivered to S3 by trails."""
