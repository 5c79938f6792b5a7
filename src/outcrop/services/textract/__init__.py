"""Amazon Textract on the local OCR and layout readers."""
