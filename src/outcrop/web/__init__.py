"""Outcrop's own HTTP surfaces beside the AWS APIs: the console, the OpenAI-compatible API, local API Gateway.

Each module here that defines `mount(app, services)` returns `{path: handler}` for the gateway's internal
table; a path ending in `/` is a mount that takes every path under it. Handlers are plain clients of the
services and the app, never of the protocol layer's internals.
"""
