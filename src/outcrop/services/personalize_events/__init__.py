"""Amazon Personalize Events: incremental interactions, items and users."""
