"""The one exception family that the library raises for bad user input."""


class FERError(Exception):
    """Base class: a user-facing problem, reported by the CLIs as one line and exit status 2."""


class FERDataError(FERError, ValueError):
    """Malformed or unusable input data (a file, a CSV row, an image, a folder)."""
