"""``python -m fer_keras.faces``: find and crop faces in photos.
The code lives in ``fer_keras.data.faces``."""

import sys

from fer_keras.data.faces import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
