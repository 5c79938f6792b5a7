"""AWS Lambda: functions run by local worker processes."""
