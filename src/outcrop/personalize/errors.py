"""The domain's errors; each service maps them to its own modelled exception of the same meaning."""

from __future__ import annotations


class PersonalizeError(Exception):
    """Base of the domain errors: the message is what the caller is shown."""


class InvalidInput(PersonalizeError):
    """The request or its data breaks a rule (InvalidInputException)."""


class NotFound(PersonalizeError):
    """A named resource does not exist (ResourceNotFoundException)."""


class AlreadyExists(PersonalizeError):
    """A resource of that name exists already (ResourceAlreadyExistsException)."""


class InUse(PersonalizeError):
    """The resource is busy or others depend on it (ResourceInUseException)."""


class LimitExceeded(PersonalizeError):
    """A limit on how many resources may exist is reached (LimitExceededException)."""
