"""Amazon Fraud Detector."""
