"""Amazon Polly: speech synthesis on the local voices."""
