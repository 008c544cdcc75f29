"""TFLite export: float32 equals Keras, int8 keeps the top emotion, the .tflite file works wherever a
model is taken, bad input is one line."""

import os
import subprocess
import sys

import cv2
import keras
import numpy as np
import pytest
from skimage import data as samples

from fer_keras import EMOTIONS
from fer_keras.errors import FERError
from fer_keras.runs.model_files import load_model
from fer_keras.inference.tflite import export_tflite
from fer_keras.runs.model_files import TFLiteModel

from conftest import REPO


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(len(EMOTIONS), activation="softmax")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    head = model.layers[-1]
    head.kernel.assign(head.kernel * 30)  # decisive scores, as a trained model's (an untrained one's nearly tie)
    model.save(folder / "tiny.keras")
    faces = np.random.default_rng(0).random((64, 48, 48, 1), dtype=np.float32)
    return {"dir": folder, "model": model, "keras": folder / "tiny.keras", "faces": faces,
            "float32": export_tflite(model, folder / "tiny.tflite", "none"),
            "int8": export_tflite(folder / "tiny.keras", folder / "tiny_int8.tflite", "int8", calibration=faces)}


@pytest.mark.slow
def test_float32_export_predicts_what_keras_predicts_in_any_batch(tiny):
    model = load_model(tiny["float32"])
    assert isinstance(model, TFLiteModel) and model.outputs[0].shape == (None, len(EMOTIONS))
    expected = tiny["model"].predict(tiny["faces"], verbose=0)
    np.testing.assert_allclose(model.predict(tiny["faces"], batch_size=10), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(tiny["faces"][:1]), expected[:1], atol=1e-5)
    assert model.predict(tiny["faces"][:0]).shape == (0, len(EMOTIONS))


def test_int8_export_is_smaller_and_keeps_the_top_emotion(tiny):
    scores = TFLiteModel(tiny["int8"]).predict(tiny["faces"])
    expected = tiny["model"].predict(tiny["faces"], verbose=0)
    assert np.allclose(scores.sum(axis=1), 1, atol=0.02)
    assert np.abs(scores - expected).max() < 0.1
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 0.05  # near-ties may flip under quantisation
    assert clear.sum() >= 5 and (scores.argmax(1) == expected.argmax(1))[clear].all()
    assert tiny["int8"].stat().st_size < tiny["float32"].stat().st_size


def test_the_recognizer_takes_a_tflite_model(tiny):
    from fer_keras.inference.predict import EmotionRecognizer

    astronaut = cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR)
    (face,) = EmotionRecognizer(tiny["float32"]).detect_emotions(astronaut)
    (reference,) = EmotionRecognizer(tiny["keras"]).detect_emotions(astronaut)
    assert face["box"] == reference["box"]
    np.testing.assert_allclose(list(face["emotions"].values()), list(reference["emotions"].values()), atol=1e-5)


def test_bad_tflite_input_is_one_line(tiny, tmp_path):
    (tmp_path / "text.tflite").write_text("not a model")
    with pytest.raises(FERError, match="not a TFLite model"):
        load_model(tmp_path / "text.tflite")
    with pytest.raises(FERError, match="unknown quantisation 'int4'"):
        export_tflite(tiny["model"], tmp_path / "x.tflite", "int4")
    with pytest.raises(FERError, match="int8 quantisation needs calibration faces"):
        export_tflite(tiny["model"], tmp_path / "x.tflite", "int8")
    assert not (tmp_path / "x.tflite").exists()


def tflite_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "fer_keras.tflite", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_cli_writes_an_int8_model_and_says_how_often_it_agrees(tiny, tmp_path):
    done = tflite_cli(tiny["keras"], tmp_path / "out.tflite", "--calibration", "50", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-1500:]
    assert (tmp_path / "out.tflite").is_file() and "int8); same top emotion as the .keras model on" in done.stdout
    bad = tflite_cli(tiny["keras"], tmp_path / "out.onnx", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: output {tmp_path / 'out.onnx'} must end in .tflite"
    assert not (tmp_path / "out.onnx").exists()


def test_cli_missing_model_is_one_line_and_writes_nothing(tmp_path):
    done = tflite_cli(tmp_path / "missing.keras", tmp_path / "out.tflite", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == f"error: model file not found: {tmp_path / 'missing.keras'}"
    assert not (tmp_path / "out.tflite").exists()


def test_cli_zero_calibration_faces_is_one_line(tiny, tmp_path):
    done = tflite_cli(tiny["keras"], tmp_path / "out.tflite", "--calibration", "0", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == "error: --calibration must be at least 1, got 0"
    assert not (tmp_path / "out.tflite").exists()
