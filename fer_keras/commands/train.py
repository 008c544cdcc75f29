"""``python -m fer_keras.train``: train a named variant and evaluate it on its test split.
The code lives in ``fer_keras.training.train``."""

import sys

from fer_keras.training.train import main, train  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
