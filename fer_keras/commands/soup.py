"""``python -m fer_keras.soup``: one model averaged from runs fine-tuned from one start.
The code lives in ``fer_keras.evaluation.soup``."""

import sys

from fer_keras.evaluation.soup import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
