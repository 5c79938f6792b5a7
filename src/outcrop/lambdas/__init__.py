"""Lambda functions and API Gateway routes, run locally: SAM templates, warm worker processes, event shapes.

`template` reads apps (SAM `template.yaml` or the one-line `name=path/module.handler` form) into `spec`
objects; `workers` runs each invocation in a reused child process (`runtime` is that child's main);
`events` and `responses` translate between HTTP and API Gateway's payload 1.0 / 2.0; `registry` ties them
together for the `lambda` service and the `web.apigateway` mount.
"""
