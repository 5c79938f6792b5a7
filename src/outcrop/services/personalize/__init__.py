"""Amazon Personalize control plane."""
