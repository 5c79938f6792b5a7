"""Amazon SageMaker Runtime: the data plane that invokes deployed endpoints."""
