"""SageMaker built-in algorithms that a training image runs when no user script is given."""
