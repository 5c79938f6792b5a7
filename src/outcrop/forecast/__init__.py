"""Time-series forecasting for Amazon Forecast: parsing series, statistical models, accuracy metrics.

Knows nothing of AWS's API: the forecast service translates its operations into these functions.
"""
