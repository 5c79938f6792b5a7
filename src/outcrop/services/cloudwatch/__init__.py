"""Amazon CloudWatch metrics (SageMaker endpoint invocations)."""
