"""Amazon Forecast Query: QueryForecast over the forecasts the forecast service made (see provider.py)."""
