"""TensorFlow Lite (LiteRT), a TensorFlow-only extra: export a trained ``.keras`` classifier to a
``.tflite`` file — float32, float16, dynamic-range or full-integer (int8) quantisation — and run one
with the part of the Keras model API that fer_keras uses (``predict``, ``predict_on_batch``, the
input / output shapes), so ``evaluate --model``, ``EmotionRecognizer(model=...)`` and
``predict --model`` take a ``.tflite`` file as they take a ``.keras`` one.

``python -m fer_keras.tflite MODEL.keras OUT.tflite --quantize int8 --data fer2013.csv.gz``

Full-integer quantisation calibrates its activation ranges on real faces: ``--data``'s Training rows
(``--calibration`` of them, at random). The ``.keras`` file stays the model of record (every
backend loads it); the ``.tflite`` copy is for fast inference on a CPU.
"""

import tempfile
from pathlib import Path

import numpy as np

from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.errors import FERError
from fer_keras.runs.model_files import TFLiteModel

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def export_tflite(model, out_path, quantize="int8", calibration=None):
    """Write ``model`` (a ``keras.Model`` or ``.keras`` path) to ``out_path`` as TFLite with
    ``quantize`` ("none", "float16", "dynamic" or "int8"; int8 needs ``calibration`` faces,
    N×48×48×1 float in [0, 1]). Returns the path. The file appears only when complete."""
    if quantize not in QUANTIZATIONS:
        raise FERError(f"unknown quantisation {quantize!r}; expected one of {', '.join(QUANTIZATIONS)}")
    if quantize == "int8" and (calibration is None or len(calibration) == 0):
        raise FERError("int8 quantisation needs calibration faces (--data with a Training split)")
    keras = import_keras_quietly()
    if keras.backend.backend() != "tensorflow":
        raise FERError("TFLite export needs the TensorFlow backend (KERAS_BACKEND=tensorflow)")
    import tensorflow as tf

    from fer_keras.runs.model_files import check_model, load_model

    model = check_model(load_model(model) if isinstance(model, (str, Path)) else model, outputs=None)
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory() as folder:
        model.export(folder, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        if quantize != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantize == "int8":
            faces = np.asarray(calibration, dtype=np.float32)
            converter.representative_dataset = lambda: ([faces[i:i + 1]] for i in range(len(faces)))
        blob = converter.convert()
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_bytes(blob)
    partial.replace(out_path)
    return out_path


def calibration_faces(data, n=500, seed=0):
    """``n`` random Training faces of ``data`` (a source for ``fer_keras.data.load``) in [0, 1]."""
    from fer_keras.data import load

    dataset = load(data)
    rows = np.flatnonzero(np.asarray(dataset.usage) == "Training")
    if len(rows) == 0:
        rows = np.arange(len(dataset))
    rows = np.random.default_rng(seed).choice(rows, size=min(n, len(rows)), replace=False)
    return dataset.images[np.sort(rows)][..., None].astype(np.float32) / 255


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.tflite",
        description="Export a trained .keras face classifier to TensorFlow Lite for fast CPU inference; the "
        "result works wherever fer_keras takes a model (evaluate --model, predict --model, EmotionRecognizer).",
        epilog="example: python -m fer_keras.tflite fer_keras/models/pretrained/fernet_s.keras fernet_s_int8.tflite "
        "--quantize int8 --data fer2013.csv.gz")
    parser.add_argument("model", help="a trained .keras file")
    parser.add_argument("out", help="the .tflite file to write")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default="int8",
                        help="int8: full-integer, about 4× smaller and the fastest on a CPU (calibrated on --data); "
                        "dynamic: int8 weights; float16: half-size weights; none: float32 (default: %(default)s)")
    parser.add_argument("--data", default="synthetic",
                        help="faces to calibrate int8 on: a Kaggle CSV or image folder (its Training rows) "
                        "(default: %(default)s)")
    parser.add_argument("--calibration", type=int, default=500, help="calibration faces (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.out.endswith(".tflite"):
        raise FERError(f"output {args.out} must end in .tflite")
    if args.calibration < 1:
        raise FERError(f"--calibration must be at least 1, got {args.calibration}")
    from fer_keras.runs.model_files import load_model

    model = load_model(args.model)  # loaded once: exported, then compared with its export
    faces = calibration_faces(args.data, args.calibration if args.quantize == "int8" else 200)
    out = export_tflite(model, args.out, args.quantize, faces if args.quantize == "int8" else None)
    agree = np.mean(model.predict(faces, batch_size=256, verbose=0).argmax(1)
                    == TFLiteModel(out).predict(faces).argmax(1))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {args.quantize}); same top emotion as the .keras model "
          f"on {100 * agree:.1f} % of {len(faces)} {Path(str(args.data)).name} faces")
    return 0
