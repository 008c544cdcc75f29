"""The model that ships with fer_keras: what ``EmotionRecognizer()`` and
``python -m fer_keras.predict photo.jpg`` use when no model is given.

``fernet_s.keras`` is FERNet-S trained on FER2013 on a 2-core CPU by this project (honest protocol;
its model card, with the exact command, data fingerprint and PrivateTest numbers, is
``results/fernet_s_model_card.md`` in the repository). It is stored without optimizer state and
loads in Keras safe mode on every backend.
"""

from pathlib import Path

from fer_keras.errors import FERError

DEFAULT_MODEL = Path(__file__).with_name("fernet_s.keras")
FAST_MODEL = Path(__file__).with_name("fernet_s_int8.tflite")
"""The same model exported by ``python -m fer_keras.tflite --quantize int8`` (calibrated on 500
FER2013 Training faces): about 4× less CPU per face, the same accuracy on FER2013; TensorFlow only."""
MODEL_CARD = Path(__file__).with_name("fernet_s.json")
"""The model card's numbers, machine-readable: command, data fingerprint, PrivateTest scores."""


def model_card():
    """The packaged model's card (``MODEL_CARD``) as a dict."""
    import json

    return json.loads(MODEL_CARD.read_text())


def default_model_path(fast=False):
    """The packaged model's path (``fast``: its int8 TFLite copy); a clear error if missing."""
    path = FAST_MODEL if fast else DEFAULT_MODEL
    if not path.is_file():
        raise FERError(f"the packaged model {path} is missing from this installation; reinstall fer_keras "
                       "or pass --model / EmotionRecognizer(model=...) with a trained .keras file")
    return path
