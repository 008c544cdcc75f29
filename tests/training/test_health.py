"""A run that ends at the class prior says so (issue 21): the collapse check, its causes, precise
BatchNorm after the last epoch, the *did not learn* mark in the tables, and distillation from teacher runs."""

import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.errors import FERError
from fer_keras.training.health import collapse_summary, confusion_summary, learned, learning_check
from fer_keras.models.registry import MODEL_BUILDERS
from fer_keras.training.variants import VARIANTS


def test_one_answer_for_every_face_did_not_learn_and_the_line_names_the_causes():
    labels = np.arange(700) % 7
    prior = np.full((700, 7), 1 / 7)
    prior[:, 3] += 0.01
    summary = collapse_summary(prior / prior.sum(1, keepdims=True), labels)
    assert summary["top_class_share"] == 1.0 and not learned(summary)
    line = learning_check(summary, units={"fc1": (0, 64)})
    assert line.startswith("DID NOT LEARN") and "dead ReLU layer fc1" in line and "ln 7" in line
    assert "\n" not in line
    sure = np.eye(7)[labels] * 0.9 + 0.1 / 7
    assert learned(collapse_summary(sure, labels)) and learning_check(collapse_summary(sure, labels)) is None


def test_accuracy_at_the_majority_share_is_not_learning_even_with_spread_answers():
    # 26.0 % where always answering the most common class (happy, 845 of 3,264) gives 25.9 %: the six-layer CNN
    confusion = [[198, 2, 127, 41, 25, 10, 48], [22, 0, 10, 3, 1, 0, 2], [154, 5, 151, 42, 30, 43, 52],
                 [165, 25, 257, 309, 24, 9, 56], [172, 11, 208, 70, 22, 9, 80], [61, 2, 110, 25, 5, 68, 14],
                 [169, 19, 204, 65, 30, 9, 100]]
    summary = confusion_summary(confusion)
    assert summary["top_class_share"] < 0.8 and summary["macro_recall"] > 1.5 / 7
    assert math.isclose(summary["majority_share"], 845 / 3264) and not learned(summary)


def test_a_one_vs_rest_head_learned_when_it_sees_both_classes_better_than_a_coin():
    """Most of a head's answers are "not this emotion", as they should be: only its macro recall (balanced accuracy)
    says whether it learned. The ninth session's CPU-size six-layer heads on PrivateTest (rows: other, the emotion):
    angry learned a little (macro recall 0.563); disgust answers "no" to all but 6 faces; fear is a coin."""
    angry = confusion_summary([[2646, 167], [367, 84]])
    assert angry["top_class_share"] > 0.8 and angry["accuracy"] < angry["majority_share"] + 0.05  # 7-class rules
    assert learned(angry)
    assert not learned(confusion_summary([[3220, 6], [38, 0]]))  # disgust
    assert not learned(confusion_summary([[1501, 1286], [214, 263]]))  # fear: macro recall 0.545


def tiny(input_shape=(48, 48, 1), num_classes=7, binary=False, name="tiny", dead=False):
    """3 × [Conv 3×3 ReLU (16, 32, 64) → MaxPool] (a BatchNorm after the second) → Dense 16 ReLU → softmax;
    ``dead``: the hidden layer's bias starts at −1000, so no unit ever fires and no gradient reaches below it."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x) if filters == 32 else x
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    bias = keras.initializers.Constant(-1000.0 if dead else 0.0)
    x = layers.Dense(16, activation="relu", bias_initializer=bias, name="fc1")(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="predictions")(x), name=name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """In-process runs on 1,400 synthetic faces: a healthy one (precise BN on), one with a dead head, and a
    student distilled from the healthy one."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("health")
    csv = write_csv(generate(n_samples=1400, seed=1).data, root / "faces.csv")
    base = dataclasses.replace(VARIANTS["baseline_cnn"], model="tiny_health", cleaning=(), reference="test",
                               batch_size=32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        patch.setitem(MODEL_BUILDERS, "tiny_health", tiny)
        patch.setitem(MODEL_BUILDERS, "tiny_dead", lambda **kw: tiny(dead=True, **kw))
        patch.setitem(VARIANTS, "tiny_health", dataclasses.replace(base, name="tiny_health"))
        patch.setitem(VARIANTS, "tiny_dead", dataclasses.replace(base, name="tiny_dead", model="tiny_dead"))
        common = {"data": str(csv), "output_dir": root / "callbacks", "results_dir": root / "results", "verbose": 0}
        healthy = train("tiny_health", epochs=10, precise_bn="on", **common)
        dead = train("tiny_dead", epochs=2, **common)
        student = train("tiny_health", epochs=2, seed=1, teachers=(healthy["run_dir"],), **common)
        yield {"root": root, "csv": csv, "healthy": healthy, "dead": dead, "student": student, "common": common}


@pytest.mark.slow
def test_a_run_with_a_dead_head_says_it_did_not_learn_and_why(runs, capsys):
    dead = runs["dead"]
    assert dead["learned"] is False and "dead ReLU layer fc1" in dead["learning_check"]
    assert dead["validation"]["top_class_share"] == 1.0
    assert runs["healthy"]["learned"] is True and runs["healthy"]["learning_check"] is None
    recorded = json.loads((Path(dead["run_dir"]).parent.parent / "results" / Path(dead["run_dir"]).name
                           / "metrics.json").read_text())
    assert recorded["learned"] is False


def test_the_tables_mark_a_run_that_did_not_learn(runs):
    from fer_keras.evaluation.results import write_tables

    rows, (readme, _) = write_tables(runs["root"] / "results")
    marks = {r["run"]: r["learned"] for r in rows}
    assert marks[Path(runs["dead"]["run_dir"]).name] is False and marks[Path(runs["healthy"]["run_dir"]).name] is True
    dead_line = next(line for line in readme.read_text().splitlines() if "`tiny_dead`" in line)
    assert "*did not learn*" in dead_line


def test_precise_batchnorm_records_both_accuracies_and_keeps_the_statistics_when_on(runs):
    record = runs["healthy"]["precise_bn"]
    assert record["mode"] == "on" and record["kept"] is True and 0 <= record["val_accuracy_after"] <= 1
    assert record["faces"] > 0


def test_distillation_records_its_teacher_and_caches_the_teacher_outputs(runs):
    teacher_dir = Path(runs["healthy"]["run_dir"])
    config = json.loads((Path(runs["student"]["run_dir"]) / "config.json").read_text())
    assert config["teacher"]["runs"] == [str(teacher_dir)] and config["teacher"]["weight"] == 0.5
    assert 0.2 < config["teacher"]["train_agreement"] <= 1
    (cache,) = teacher_dir.glob("teacher_probabilities-*.npy")
    probabilities = np.load(cache)
    assert probabilities.shape[1] == 7 and np.allclose(probabilities.sum(1), 1, atol=1e-3)
    assert runs["student"]["teacher"]["runs"] == [str(teacher_dir)]


def test_a_leaky_or_foreign_teacher_is_refused(runs, tmp_path):
    from fer_keras.training import distill
    from fer_keras.data import load
    from fer_keras.training.train import prepare

    leaky = tmp_path / "leaky"
    shutil.copytree(runs["healthy"]["run_dir"], leaky)
    config = json.loads((leaky / "config.json").read_text())
    config["prepared"]["leaky"] = True
    (leaky / "config.json").write_text(json.dumps(config))
    dataset = load(str(runs["csv"]))
    _, prepared = prepare(VARIANTS["baseline_cnn"], dataset, seed=0)
    with pytest.raises(FERError, match="LEAKY"):
        distill.check_teacher(leaky, dataset, prepared.test_ids, "usage")
    with pytest.raises(FERError, match="another split"):
        distill.check_teacher(runs["healthy"]["run_dir"], dataset, prepared.test_ids, "stratified")
    with pytest.raises(FERError, match="no such run folder"):
        distill.check_teacher(tmp_path / "missing", dataset, prepared.test_ids, "usage")


def test_soften_flattens_with_temperature_and_keeps_the_order():
    from fer_keras.training.distill import soften

    p = np.array([[0.7, 0.2, 0.1]])
    soft = soften(p, 2.0)
    assert np.allclose(soft.sum(), 1) and soft[0, 0] < 0.7 and soft[0, 2] > 0.1
    assert list(np.argsort(soft[0])) == list(np.argsort(p[0])) and np.allclose(soften(p, 1.0), p)


def test_the_packaged_teacher_teaches_only_its_own_data_and_split(runs):
    from fer_keras.training import distill
    from fer_keras.data import load

    dataset = load(str(runs["csv"]))
    with pytest.raises(FERError, match="the shipped FERNet-S was trained on FER2013"):
        distill.packaged_teacher(dataset.fingerprint, dataset.source, VARIANTS["fernet_s"])
    card = json.loads(__import__("fer_keras.models.pretrained", fromlist=["MODEL_CARD"]).MODEL_CARD.read_text())
    fer2013 = card["data_fingerprint"]
    with pytest.raises(FERError, match="Usage split without cleaning"):
        distill.packaged_teacher(fer2013, "fer2013.csv", VARIANTS["five_layer_filtered"])
    assert distill.packaged_teacher(fer2013, "fer2013.csv", VARIANTS["fernet_s"]).best.name == "fernet_s.keras"
