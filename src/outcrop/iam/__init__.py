"""IAM's domain: the policy language, its evaluation, the principal store and the action map.

Services (`iam`, `sts`) and the `auth = "iam"` authorizer use it; it holds no HTTP.
"""
