"""Application Auto Scaling (`application-autoscaling`): target tracking for SageMaker endpoint variants."""
