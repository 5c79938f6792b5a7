"""One module per AWS service, one method per operation (the operation's name in snake_case)."""
