"""AWS STS: who am I."""
