"""Saved models: one safe loader and one shape check for everything that reads a model after training
(evaluate, ensemble, saliency, predict) — a ``.keras`` file, or a ``.tflite`` export run by :class:`TFLiteModel`."""

import os
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.cli import import_keras_quietly
from fer_keras.data.labelsets import FER2013, LABEL_SETS, get_label_set
from fer_keras.errors import FERError
from fer_keras.runs.config import CONFIG, RunConfig
from fer_keras.runtime import tflite_interpreter


def load_model(path):
    """A ``.keras`` file loaded for inference (``safe_mode=True``, no optimizer state), or a
    ``.tflite`` export of one (:class:`TFLiteModel`, TensorFlow only)."""
    path = Path(path)  # checked before importing keras, so a typo fails at once
    if not path.is_file():
        raise FERError(f"model file not found: {path}")
    if path.suffix == ".tflite":
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
            name = RunConfig.read(config).data.label_set
        except FERError:
            name = None
    label_set = get_label_set(name) if name else FER2013
    if label_set.num_classes != width:
        hint = "" if name else f"; name the label set it was trained on ({', '.join(LABEL_SETS)}) with {option}"
        raise FERError(f"model {path or model.name} has {width} output unit(s) but label set {label_set.name} has "
                       f"{label_set.num_classes} classes{hint}")
    return label_set


class TFLiteModel:
    """A ``.tflite`` classifier of 48×48×1 faces in [0, 1] with the Keras calls fer_keras makes."""

    def __init__(self, path, num_threads=None):
        """``num_threads``: the interpreter's threads, default one per core (twice the faces/s of
        TFLite's default single thread on 2 cores, for the same CPU time per face)."""
        path = Path(path)
        num_threads = num_threads or os.cpu_count() or 1
        if not path.is_file():
            raise FERError(f"model file not found: {path}")
        try:
            self.interpreter = tflite_interpreter(path, num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise FERError(f"could not load model {path}: not a TFLite model ({str(err).splitlines()[0]})") from None
        self.source = self.interpreter.get_input_details()[0]
        self.sink = self.interpreter.get_output_details()[0]
        shape = tuple(int(d) for d in self.source["shape"][1:])
        if shape != (IMAGE_SIZE, IMAGE_SIZE, 1):
            raise FERError(f"model {path} takes input {shape}; fer_keras feeds {IMAGE_SIZE}×{IMAGE_SIZE}×1 grey faces")
        self.name = path.stem
        width = int(self.sink["shape"][-1])
        self.inputs = [SimpleNamespace(shape=(None, *shape))]
        self.outputs = [SimpleNamespace(shape=(None, width))]
        self.batch = int(self.source["shape"][0])

    def predict_on_batch(self, x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        if len(x) != self.batch:
            self.interpreter.resize_tensor_input(self.source["index"], [len(x), IMAGE_SIZE, IMAGE_SIZE, 1])
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.source["index"], x)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.sink["index"]).copy()

    def predict(self, x, batch_size=64, verbose=0):
        """Scores N×K for ``x`` (N×48×48×1 float in [0, 1]), ``batch_size`` faces per ``invoke``."""
        x = np.asarray(x, dtype=np.float32)
        if len(x) == 0:
            return np.zeros((0, self.outputs[0].shape[-1]), dtype=np.float32)
        return np.concatenate([self.predict_on_batch(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
