"""The detectors each guardrail policy runs on."""
