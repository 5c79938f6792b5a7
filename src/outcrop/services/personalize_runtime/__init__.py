"""Amazon Personalize Runtime: recommendations and rankings from campaigns."""
