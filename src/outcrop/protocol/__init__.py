"""AWS wire protocols, driven by botocore's service models. Knows HTTP and botocore, nothing of models."""
