"""Amazon Personalize's domain: schemas, stored data, filters, training and recommendations (no AWS wire)."""
