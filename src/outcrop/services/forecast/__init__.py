"""Amazon Forecast: datasets, predictors, forecasts (see provider.py)."""
