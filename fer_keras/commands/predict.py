"""``python -m fer_keras.predict``: emotions of the faces in photos, folders, video or the webcam.
The code lives in ``fer_keras.inference.predict``."""

import sys

from fer_keras.inference.predict import main, EmotionRecognizer  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
