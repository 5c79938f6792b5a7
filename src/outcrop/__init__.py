"""Outcrop: the AWS AI stack on one self-hosted server, answering with real local models."""

__version__ = "0.1.0"
