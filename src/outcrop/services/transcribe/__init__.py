"""Amazon Transcribe on the local Whisper models."""
