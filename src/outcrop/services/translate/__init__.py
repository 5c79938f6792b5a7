"""Amazon Translate on apertium and the local chat model."""
