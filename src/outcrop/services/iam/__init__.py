"""AWS IAM: users, groups, roles, access keys and policies."""
