"""Training in stages: Berindeie's train → train+val → val (LEAKY), PAtt-Lite's frozen → fine-tuned."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.training.stages import BERINDEIE_STAGES, Stage, parse_stages

from conftest import REPO

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    return write_csv(generate(n_samples=300, seed=5).data, tmp_path_factory.mktemp("data") / "tiny.csv")


def test_parse_stages_reads_data_and_epochs():
    assert parse_stages("train:4, train+val:2,val") == (Stage("train", 4), Stage("train+val", 2), Stage("val"))
    assert [s.leaky for s in BERINDEIE_STAGES] == [False, True, True]


def test_staged_run_fits_train_then_train_plus_val_then_val_and_is_labelled_leaky(tmp_path, tiny_csv):
    from fer_keras.data import load
    from fer_keras.evaluation.results import collect, markdown_table
    from fer_keras.training.train import prepare, train
    from fer_keras.training.variants import get_variant

    metrics = train("baseline_cnn", tiny_csv, epochs=1, output_dir=tmp_path / "callbacks",
                    results_dir=tmp_path / "results", verbose=0, stages=parse_stages("train,train+val,val:2"))
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    _, prepared = prepare(get_variant("baseline_cnn"), load(tiny_csv), seed=0)
    n_train, n_val, n_test = len(prepared.x_train), len(prepared.x_val), len(prepared.x_test)
    assert [(s["data"], s["epochs"], s["images"]) for s in config["stages"]] == [
        ("train", 1, n_train), ("train+val", 1, n_train + n_val), ("val", 2, n_val)]
    assert pd.read_csv(run_dir / "history.csv")["stage"].tolist() == [1, 2, 3, 3]  # in order, epochs per stage
    # the test split (PrivateTest) is never fitted: it is evaluated, whole, at the end
    assert config["prepared"]["test"] == metrics["n_test"] == n_test
    assert (config["prepared"]["protocol"], config["prepared"]["leaky"]) == ("staged", True)
    assert config["prepared"]["notes"][-1].startswith("LEAKY staged protocol: stage(s) 2 (train+val), 3 (val)")
    assert (metrics["protocol"], metrics["leaky"], metrics["stages"]) == ("staged", True, "train:1,train+val:1,val:2")
    written = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    assert (written["protocol"], written["leaky"]) == ("staged", True)
    assert "> **LEAKY protocol** (staged): later training stages fit the validation split" in (
        tmp_path / "results" / run_dir.name / "report.md").read_text()
    assert "| **LEAKY** (staged) |" in markdown_table(collect(tmp_path / "results"))


def test_pattlite_second_stage_unfreezes_the_backbone_but_not_batchnorm(tmp_path):
    import keras

    from fer_keras.models.pattlite import BASE_NAME, PAPER_UNFREEZE, build_pattlite
    from fer_keras.training.stages import enter_stage
    from fer_keras.training.variants import PATTLITE_STAGES

    assert PATTLITE_STAGES[1].unfreeze == PAPER_UNFREEZE and PATTLITE_STAGES[1].learning_rate == 1e-5
    model = build_pattlite(base_size=80)
    model.save(tmp_path / "best.keras")
    saved = model.get_layer("fc").get_weights()
    model.get_layer("fc").set_weights([np.zeros_like(w) for w in saved])  # the in-memory weights drifted
    backbone = model.get_layer(BASE_NAME)
    before = {layer.name: layer.trainable for layer in backbone.layers}
    head_before = {layer.name: layer.trainable for layer in model.layers if layer.name != BASE_NAME}
    assert not any(before.values())  # stage 1: the whole backbone frozen

    enter_stage(model, PATTLITE_STAGES[1], tmp_path / "best.keras")
    batchnorm = {layer.name for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)}
    changed = {layer.name for layer in backbone.layers if layer.trainable != before[layer.name]}
    assert changed == {layer.name for layer in backbone.layers} - batchnorm  # all of it but BatchNorm
    # conv1 + 9 depthwise + 8 pointwise BatchNorm layers, all still frozen (inference mode)
    assert len(batchnorm) == 18 and not any(backbone.get_layer(name).trainable for name in batchnorm)
    assert {layer.name: layer.trainable for layer in model.layers if layer.name != BASE_NAME} == head_before
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 1_083_400  # the builder's docstring
    for got, want in zip(model.get_layer("fc").get_weights(), saved):
        np.testing.assert_array_equal(got, want)  # continued from the checkpoint, not the drifted weights

    partial = build_pattlite(base_size=80)
    enter_stage(partial, Stage(unfreeze=10), tmp_path / "best.keras")
    layers = partial.get_layer(BASE_NAME).layers
    assert [layer.name for layer in layers if layer.trainable] == [
        layer.name for layer in layers[-10:] if not isinstance(layer, keras.layers.BatchNormalization)]


def test_a_two_stage_pattlite_run_writes_its_artefacts(tmp_path, tiny_csv):
    from fer_keras.training.train import train

    metrics = train("pattlite_finetune", tiny_csv, epochs=1, batch_size=32, output_dir=tmp_path / "callbacks",
                    results_dir=tmp_path / "results", verbose=0, model_kwargs={"base_size": 80})
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    assert {"best.keras", "config.json", "history.csv", "test_split.npz", "logs"} <= {p.name for p in run_dir.iterdir()}
    history = pd.read_csv(run_dir / "history.csv")
    assert history["stage"].tolist() == [1, 2] and history["epoch"].tolist() == [0, 1]
    assert history["learning_rate"].tolist() == pytest.approx([1e-3, 1e-5])
    config = json.loads((run_dir / "config.json").read_text())
    assert [(s["data"], s["unfreeze"], s["learning_rate"]) for s in config["stages"]] == [
        ("train", 0, None), ("train", 59, 1e-5)]
    assert (metrics["protocol"], metrics["leaky"], metrics["epochs_run"]) == ("honest", False, 2)
    assert (tmp_path / "results" / run_dir.name / "report.md").exists()


@pytest.mark.parametrize("args, message", [
    (["--stages", "train,test"], "--stages 'train,test': bad stage 'test' (unknown stage data 'test'"),
    (["--stages", "train:0"], "a stage's epochs must be a positive integer, got 0"),
    (["--stages", "train,val", "--time-budget", "5"], "--stages plans epochs per stage: it does not combine"),
    (["--stages", "train,val", "--variant", "baseline_cnn_thesis_protocol"],
     "stages on the validation split need the honest protocol, not 'thesis'"),
])
def test_bad_stages_exit_2_and_write_nothing(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "fer_keras.train", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-1500:]
    assert message in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()
