"""``python -m fer_keras.tflite``: export a model to TFLite.
The code lives in ``fer_keras.inference.tflite``."""

import sys

from fer_keras.inference.tflite import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
