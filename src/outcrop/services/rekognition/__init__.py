"""Amazon Rekognition: faces, text and moderation on the local vision models."""
