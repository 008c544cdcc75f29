"""The one exception family that the library raises for bad user input."""


class FERError(ValueError):
    """Base class: a user-facing problem, reported by the CLIs as one line and exit status 2.

    A ``ValueError``, as scikit-learn's and Keras' argument errors are, so ``except ValueError``
    around a builder or a loader catches it too."""


class FERDataError(FERError, ValueError):
    """Malformed or unusable input data (a file, a CSV row, an image, a folder)."""
