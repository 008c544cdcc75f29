"""Saved ``.keras`` models: one safe loader and one shape check for everything that reads a model
after training (evaluate, ensemble, saliency, predict)."""

import json
import zipfile
from pathlib import Path

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.cli import import_keras_quietly
from fer_keras.errors import FERError
from fer_keras.labelsets import FER2013, LABEL_SETS, get_label_set
from fer_keras.runs import CONFIG


def load_model(path):
    """A ``.keras`` file loaded for inference (``safe_mode=True``, no optimizer state), or a
    ``.tflite`` export of one (:class:`fer_keras.tflite.TFLiteModel`, TensorFlow only)."""
    path = Path(path)  # checked before importing keras, so a typo fails at once
    if not path.is_file():
        raise FERError(f"model file not found: {path}")
    if path.suffix == ".tflite":
        from fer_keras.tflite import TFLiteModel

        return TFLiteModel(path)
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise FERError(f"could not load model {path}: not a .keras archive (corrupt or truncated file?)")
    keras = import_keras_quietly()
    import fer_keras.models.layers  # noqa: F401  (registers the package's own layers for safe-mode loading)

    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as err:  # a user's file: any failure to read it is a user error
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FERError(f"could not load model {path}: {reason}") from None
    return model


def check_model(model, name=None, outputs=len(EMOTIONS)):
    """Raise FERError unless ``model`` takes 48×48×1 faces and has one output of ``outputs`` units
    (one per emotion by default; ``None`` accepts any width, e.g. a one-vs-rest sigmoid)."""
    expected_width = outputs
    name = name or getattr(model, "name", "model")
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if inputs:
        shape = tuple(inputs[0].shape[1:])
        expected = (IMAGE_SIZE, IMAGE_SIZE, 1)
        fits = len(shape) == 3 and all(d in (None, want) for d, want in zip(shape, expected))
        if len(inputs) != 1 or not fits:
            raise FERError(f"model {name} takes input {shape if len(inputs) == 1 else len(inputs)}; "
                           f"fer_keras feeds {IMAGE_SIZE}×{IMAGE_SIZE}×1 grey faces")
    if outputs:
        width = outputs[0].shape[-1]
        if len(outputs) != 1 or (expected_width is not None and width != expected_width):
            wanted = (f"one per emotion ({len(EMOTIONS)}: {', '.join(EMOTIONS)})" if expected_width == len(EMOTIONS)
                      else f"{expected_width} or one output" if expected_width else "one output")
            raise FERError(f"model {name} has {width} output unit(s); expected {wanted}")
    return model


def label_set_of(model, path=None, name=None, option="--model-labels"):
    """The label set of a model's outputs: the one called ``name`` when given; else the one the
    ``config.json`` beside ``path`` records (a run folder's ``best.keras``); else FER2013's for seven
    outputs. FERError when none applies or the set's size is not the model's output width (``option``
    is the CLI flag that names the set, for the message)."""
    width = model.outputs[0].shape[-1]
    config = None if path is None else Path(path).with_name(CONFIG)
    if name is None and config is not None and config.is_file():
        try:
            name = json.loads(config.read_text()).get("data", {}).get("label_set")
        except (json.JSONDecodeError, AttributeError):
            name = None
    label_set = get_label_set(name) if name else FER2013
    if label_set.num_classes != width:
        hint = "" if name else f"; name the label set it was trained on ({', '.join(LABEL_SETS)}) with {option}"
        raise FERError(f"model {path or model.name} has {width} output unit(s) but label set {label_set.name} has "
                       f"{label_set.num_classes} classes{hint}")
    return label_set
