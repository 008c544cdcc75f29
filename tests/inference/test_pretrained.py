"""The packaged model: loads in safe mode, gives 7 probabilities, is the recognizer's default, and
scores on real FER2013 what its model card says."""

import json
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
from fer_keras.models.pretrained import DEFAULT_MODEL, FAST_MODEL, MODEL_CARD, default_model_path

from conftest import REPO


def test_the_packaged_model_is_small_and_loads_in_safe_mode_with_seven_probabilities():
    assert DEFAULT_MODEL.stat().st_size < 10 * 2**20
    model = keras.saving.load_model(default_model_path(), safe_mode=True, compile=False)
    crops = np.random.default_rng(0).random((3, 48, 48, 1), dtype=np.float32)
    probabilities = model.predict(crops, verbose=0)
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_the_recognizer_uses_it_by_default_and_finds_the_astronaut():
    from fer_keras.inference.predict import EmotionRecognizer

    recognizer = EmotionRecognizer()
    faces = recognizer.detect_emotions(cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR))
    assert len(faces) == 1 and list(faces[0]["emotions"]) == list(EMOTIONS)
    assert sum(faces[0]["emotions"].values()) == pytest.approx(1, abs=1e-5)
    emotion, probability = recognizer.top_emotion(cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR))
    assert emotion == max(faces[0]["emotions"], key=faces[0]["emotions"].get) and 0 < probability <= 1


@pytest.mark.slow
def test_predict_without_model_uses_the_packaged_one(tmp_path):
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR))
    done = subprocess.run([sys.executable, "-m", "fer_keras.predict", str(photo), "--format", "json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-1500:]
    records = json.loads(done.stdout)  # one JSON list, a record per face
    assert len(records) == 1 and set(records[0]["emotions"]) == set(EMOTIONS)


@pytest.mark.slow
@pytest.mark.realdata
def test_its_private_test_accuracy_is_the_model_cards(fer2013_path, tmp_path):
    from fer_keras.evaluation.evaluate import evaluate_model_file

    card = json.loads(MODEL_CARD.read_text())
    found = evaluate_model_file(DEFAULT_MODEL, fer2013_path, variant=card["variant"], results_dir=tmp_path,
                                n_calls=0)
    assert found["n_test"] == card["private_test"]["n"]
    assert abs(100 * found["test_accuracy"] - card["private_test"]["accuracy"]) <= 0.5
    assert abs(found["test_macro_f1"] - card["private_test"]["macro_f1"]) <= 0.01


def test_the_fast_int8_copy_is_small_and_agrees_with_the_keras_model():
    from fer_keras.inference.predict import EmotionRecognizer

    assert DEFAULT_MODEL.stat().st_size + FAST_MODEL.stat().st_size < 10 * 2**20  # the package budget
    assert FAST_MODEL.stat().st_size < DEFAULT_MODEL.stat().st_size / 3
    astronaut = cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR)
    fast_recognizer = EmotionRecognizer(fast=True)
    assert fast_recognizer.tta == "none"  # the fast path keeps one view; the default averages the mirror too
    (fast,) = fast_recognizer.detect_emotions(astronaut)
    (full,) = EmotionRecognizer(tta="none").detect_emotions(astronaut)
    assert fast["box"] == full["box"] and sum(fast["emotions"].values()) == pytest.approx(1, abs=0.02)
    assert max(fast["emotions"], key=fast["emotions"].get) == max(full["emotions"], key=full["emotions"].get)
    with pytest.raises(FERError, match="fast=True chooses the packaged model's int8 copy"):
        EmotionRecognizer(DEFAULT_MODEL, fast=True)


@pytest.mark.realdata
def test_the_fast_copys_private_test_accuracy_is_the_model_cards(fer2013_path, tmp_path):
    from fer_keras.evaluation.evaluate import evaluate_model_file

    card = json.loads(MODEL_CARD.read_text())["int8_tflite"]["private_test"]
    found = evaluate_model_file(FAST_MODEL, fer2013_path, variant="fernet_s", results_dir=tmp_path, n_calls=0)
    assert found["n_test"] == card["n"] and abs(100 * found["test_accuracy"] - card["accuracy"]) <= 0.5


@pytest.mark.slow
@pytest.mark.realdata
def test_its_realphoto_dev_numbers_are_the_model_cards():
    """End to end on realphoto_dev with the default detector and the card's class bias (issue 22)."""
    from fer_keras.evaluation.photos import evaluate_photos
    from fer_keras.inference.predict import EmotionRecognizer

    photos = REPO.parent / "shared" / "data" / "realphoto_dev"
    if not photos.is_dir():
        pytest.skip(f"realphoto_dev not found at {photos}")
    card = json.loads(MODEL_CARD.read_text())["realphoto_dev"]
    metrics = evaluate_photos(photos, EmotionRecognizer(), log=lambda message: None)
    e2e = metrics["classifiers"]["fer_keras"]["end_to_end"]
    assert metrics["n_photos"] == card["n_photos"] and metrics["n_face_found"] == card["n_face_found"]
    assert abs(100 * e2e["accuracy"] - card["accuracy"]) <= 0.5
    assert abs(e2e["macro_f1"] - card["macro_f1"]) <= 0.01
