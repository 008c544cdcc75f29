"""fer_keras — a Keras 3 toolkit for facial emotion recognition on FER2013-style data."""

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven FER2013 emotions, in label order (0 angry … 6 neutral)."""

IMAGE_SIZE = 48

__version__ = "0.1.0"

__all__ = ["EMOTIONS", "IMAGE_SIZE", "__version__"]
