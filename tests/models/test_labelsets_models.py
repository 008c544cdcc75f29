"""Label sets end to end: a model trained on FER+ gets eight outputs and FER+'s class names in its
report; scored on FER2013 it is judged on the seven shared classes and says so; predict names its
outputs by the set; bad label input is one line, exit status 2, nothing written."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.evaluation.evaluate import evaluate_model_file
from fer_keras.data.labelsets import FER2013, FERPLUS
from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.registry import MODEL_BUILDERS
from fer_keras.training.variants import VARIANTS

from conftest import REPO

FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def tiny_model(input_shape=(48, 48, 1), num_classes=7, binary=False, name="tiny_cnn"):
    inputs = image_input(input_shape)
    x = layers.Conv2D(8, 3, strides=4, activation="relu", name="conv")(inputs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, binary), name=name)


@pytest.fixture(scope="module")
def ferplus_run(tmp_path_factory):
    """fer2013.csv (400 synthetic faces) + a fer2013new.csv voting each face's FER2013 emotion, every
    tenth face contempt; one epoch of a tiny CNN on the FER+ labels, in-process."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("labelsets")
    data = generate(n_samples=400, seed=2).data
    write_csv(data, root / "fer2013.csv")
    rows = []
    for i, label in enumerate(data.labels):
        votes = [0] * 10
        k = FERPLUS.label_of("contempt") if i % 10 == 0 else FERPLUS.label_of(FER2013.classes[label])
        votes[k] = 10
        rows.append(f"{data.usage[i]},fer{i:07d}.png,{','.join(map(str, votes))}")
    (root / "fer2013new.csv").write_text("\n".join([FERPLUS_HEADER, *rows]) + "\n")
    variant = dataclasses.replace(VARIANTS["baseline_cnn"], name="tiny_labels", model="tiny_cnn", cleaning=(),
                                  batch_size=32, reference="test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        patch.setitem(MODEL_BUILDERS, "tiny_cnn", tiny_model)
        patch.setitem(VARIANTS, "tiny_labels", variant)
        metrics = train("tiny_labels", str(root / "fer2013new.csv"), epochs=1, output_dir=root / "callbacks",
                        results_dir=root / "results", verbose=0)
        yield {"root": root, "metrics": metrics, "run": Path(metrics["run_dir"])}


@pytest.mark.slow
def test_a_ferplus_run_has_eight_outputs_and_reports_ferplus_class_names(ferplus_run):
    metrics, run = ferplus_run["metrics"], ferplus_run["run"]
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["label_set"] == "ferplus" and config["data"]["classes"] == list(FERPLUS.classes)
    model = keras.saving.load_model(run / "best.keras", compile=False)
    assert model.outputs[0].shape[-1] == 8
    assert metrics["class_names"] == list(FERPLUS.classes) and "contempt" in metrics["per_class"]
    assert metrics["per_class"]["contempt"]["support"] > 0
    report = (ferplus_run["root"] / "results" / run.name / "report.md").read_text()
    assert "happiness" in report and "contempt" in report


def test_a_ferplus_model_on_fer2013_is_scored_on_the_seven_shared_classes(ferplus_run, capsys):
    root = ferplus_run["root"]
    metrics = evaluate_model_file(ferplus_run["run"] / "best.keras", root / "fer2013.csv", results_dir=root / "out",
                                  name="cross", n_calls=0)
    assert metrics["model_labels"] == "ferplus" and metrics["data_labels"] == "fer2013"
    assert metrics["class_names"] == list(FER2013.classes) and metrics["n_test_dropped"] == 0
    assert metrics["scored_on"].startswith("scored on the 7 shared classes: angry, disgust, fear, happy, sad")
    assert np.array(metrics["confusion_matrix"]).shape == (7, 7)
    assert "Scored on the 7 shared classes" in (root / "out" / "cross" / "report.md").read_text()


def test_a_fer2013_model_on_ferplus_drops_contempt_images(ferplus_run, tmp_path):
    root = ferplus_run["root"]
    tiny_model(num_classes=7).save(tmp_path / "fer2013_model.keras")
    metrics = evaluate_model_file(tmp_path / "fer2013_model.keras", root / "fer2013new.csv", results_dir=tmp_path,
                                  name="cross", n_calls=0)
    contempt = ferplus_run["metrics"]["per_class"]["contempt"]["support"]
    assert metrics["n_test_dropped"] == contempt > 0
    assert metrics["n_test"] == ferplus_run["metrics"]["n_test"] - contempt
    assert metrics["shared_classes"] == ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear"]


def test_predict_names_a_ferplus_models_outputs_by_its_classes(ferplus_run):
    from fer_keras.inference.predict import EmotionRecognizer

    recognizer = EmotionRecognizer(ferplus_run["run"] / "best.keras", detector=FixedBox())
    (face,) = recognizer.detect_emotions(np.full((96, 96), 128, np.uint8))
    assert list(face["emotions"]) == list(FERPLUS.classes)
    assert sum(face["emotions"].values()) == pytest.approx(1)


class FixedBox:
    def detect(self, grey):
        return [[10, 10, 60, 60]]


def cli(module, *args, cwd):
    return subprocess.run([sys.executable, "-m", f"fer_keras.{module}", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("module, args, message", [
    ("train", ["--labels", "fer+"], "unknown label set 'fer+'; use one of fer2013, ferplus, affectnet, rafdb, ckplus"),
    ("train", ["--labels", "ferplus", "--ferplus-mode", "soft"], "unknown --ferplus-mode 'soft'"),
    ("evaluate", ["--model", "m.keras", "--data", "synthetic", "--model-labels", "raf"], "unknown label set 'raf'"),
    ("predict", ["photo.jpg", "--labels", "ck"], "unknown label set 'ck'"),
])
def test_a_wrong_label_set_name_is_one_line_exit_2_and_writes_nothing(tmp_path, module, args, message):
    done = cli(module, *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"error: {done.stderr.strip()[7:]}"] and message in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_eight_output_model_without_a_run_needs_its_label_set(tmp_path, ferplus_run):
    tiny_model(num_classes=8).save(tmp_path / "eight.keras")
    done = cli("evaluate", "--model", tmp_path / "eight.keras", "--data", ferplus_run["root"] / "fer2013.csv",
               "--timing-calls", "0", cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "has 8 output unit(s) but label set fer2013 has 7 classes" in done.stderr
    assert "with --model-labels" in done.stderr and not (tmp_path / "results").exists()
