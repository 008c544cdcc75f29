"""``python -m fer_keras.serve``: a local web page and JSON API for the recognizer.
The code lives in ``fer_keras.inference.serve``."""

import sys

from fer_keras.inference.serve import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
