"""One typed run config (``fer_keras.runs.config.RunConfig``): old, unversioned ``config.json`` files read
and evaluate, unknown keys and wrong types are one line naming the file and the key, every reader goes
through it; the validation split is recorded beside the test split; ``train()`` reads as its steps."""

import ast
import inspect
import json
import shutil
import subprocess

import numpy as np
import pytest

from conftest import REPO
from fer_keras.errors import FERError
from fer_keras.runs.config import SCHEMA_VERSION, RunConfig
from fer_keras.runs.folder import Run

OLD_RUN = REPO / "results" / "five_layer_original-20261122-005817"
"""A committed run from before the schema was versioned (13 keys: no recipe, stages, size, …)."""
RUN_WITH_TEACHER = REPO / "results" / "resnet50v2_trinh-20261206-030504"
"""A versionless run at CPU size, distilled from a teacher."""


def test_a_committed_unversioned_config_reads_upgraded_and_round_trips(tmp_path):
    from fer_keras.training.variants import Variant

    recorded = json.loads((OLD_RUN / "config.json").read_text())
    assert "schema_version" not in recorded and "recipe" not in recorded
    shutil.copy(OLD_RUN / "config.json", tmp_path / "config.json")
    config = Run(tmp_path).read_config()
    assert config.schema_version == SCHEMA_VERSION
    assert (config.variant_name, config.seed, config.epochs) == (recorded["variant"]["name"], recorded["seed"],
                                                                 recorded["epochs"])
    assert config.data.fingerprint == recorded["data"]["fingerprint"] and config.data.label_set == "fer2013"
    assert config.prepared.test == recorded["prepared"]["test"] and config.protocol == "honest"
    assert (config.recipe, config.size, config.stages, config.deviations) == (None, "paper", [], [])
    assert Variant.from_dict(config.variant).to_dict()["name"] == recorded["variant"]["name"]
    assert RunConfig.from_dict(config.to_dict()) == config
    written = tmp_path / "again" / "config.json"
    written.parent.mkdir()
    config.write(written)
    assert json.loads(written.read_text())["schema_version"] == SCHEMA_VERSION


@pytest.mark.slow  # a Keras model saved and evaluated: seconds, more under load
def test_an_old_run_folder_still_evaluates(tmp_path):
    import keras

    from fer_keras.evaluation.evaluate import evaluate_run

    run = tmp_path / "callbacks" / OLD_RUN.name
    run.mkdir(parents=True)
    shutil.copy(OLD_RUN / "config.json", run / "config.json")
    Run(run).write_test_split(**val_split(6), in_training=np.zeros(6, bool))
    keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(),
                      keras.layers.Dense(7, activation="softmax")]).save(run / "best.keras")
    (run / "history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.2,1.9,0.21,1.8\n")
    metrics = evaluate_run(run, results_dir=tmp_path / "results", n_calls=0)
    assert metrics["n_test"] == 6 and metrics["variant"] == "five_layer_original"
    copy = tmp_path / "results" / run.name / "config.json"
    assert copy.read_text() == (OLD_RUN / "config.json").read_text()  # the copy is the run's own file
    assert RunConfig.read(copy) == Run(run).read_config()


def test_every_committed_run_config_reads():
    """Every results/<run>/config.json that copies a training run's (not an evaluation's own record)."""
    from fer_keras.evaluation.results import EVALUATION_RECORDS
    from fer_keras.training.recipes import Recipe
    from fer_keras.training.variants import Variant

    read = 0
    for path in sorted((REPO / "results").glob("*/config.json")):
        record = json.loads(path.read_text())
        if EVALUATION_RECORDS & record.keys():
            continue
        config = RunConfig.read(path)
        Variant.from_dict(config.variant)
        if config.recipe is not None:
            Recipe.from_dict(config.recipe)
        read += 1
    assert read >= 40


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(tuned=True), "records the unknown key 'tuned'"),
    (lambda c: c["data"].update(mirror="x"), "records the unknown key 'data.mirror'"),
    (lambda c: c["prepared"].update(folds=3), "records the unknown key 'prepared.folds'"),
    (lambda c: c.update(epochs="ten"), "records 'epochs' as a string, not an integer or null"),
    (lambda c: c["data"].update(streamed=1), "records 'data.streamed' as a number, not true or false"),
    (lambda c: c.update(data=[1]), "has no 'data' object with a 'source' and a 'fingerprint'"),
    (lambda c: c.update(schema_version=99), "has schema_version 99, which this fer_keras does not read"),
])
def test_an_unknown_key_or_a_wrong_type_is_one_line_naming_the_file(tmp_path, change, message):
    config = json.loads((OLD_RUN / "config.json").read_text())
    change(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(FERError) as error:
        Run(tmp_path).read_config()
    assert message in str(error.value) and str(tmp_path / "config.json") in str(error.value)
    assert "\n" not in str(error.value)


def test_the_results_table_reads_run_copies_and_evaluation_records(tmp_path):
    from fer_keras.evaluation.results import _read_config

    for name in ("run", "model", "ensemble", "damaged"):
        (tmp_path / name).mkdir()
    shutil.copy(RUN_WITH_TEACHER / "config.json", tmp_path / "run" / "config.json")
    (tmp_path / "model" / "config.json").write_text(json.dumps(
        {"model": "m.tflite", "variant": {"name": "fernet_s", "model": "fernet_s"}, "prepared": {"part": "test"}}))
    (tmp_path / "ensemble" / "config.json").write_text(json.dumps({"ensemble": {}, "members": {}, "data": {}}))
    (tmp_path / "damaged" / "config.json").write_text("{")
    run = _read_config(tmp_path / "run")
    assert isinstance(run, RunConfig) and run.variant["model"] == "resnet50v2_trinh" and run.size == "cpu"
    assert run.teacher["runs"]
    assert _read_config(tmp_path / "model").variant["model"] == "fernet_s"
    assert _read_config(tmp_path / "ensemble").variant == {} == _read_config(tmp_path / "damaged").variant


def test_config_json_is_named_in_one_place_and_read_through_run_config():
    found = subprocess.run(["grep", "-rn", '"config.json"', "fer_keras"], cwd=REPO, capture_output=True, text=True)
    assert [line.split(":")[0] for line in found.stdout.splitlines()] == ["fer_keras/runs/config.py"]
    indexed = subprocess.run(["grep", "-rnE", r"config\[|config\.get\(", "fer_keras"], cwd=REPO, capture_output=True,
                             text=True)
    assert [line for line in indexed.stdout.splitlines() if "models/blocks.py" not in line] == []


def test_train_reads_as_its_steps_in_at_most_sixty_lines():
    from fer_keras.training.train import train

    source = inspect.getsource(train)
    function = ast.parse(source).body[0]
    body = function.body[1:] if isinstance(function.body[0].value, ast.Constant) else function.body  # the docstring
    lines = body[-1].end_lineno - body[0].lineno + 1
    assert lines <= 60, lines
    assert len(inspect.signature(train).parameters) <= 3


# --------------------------------------------------------------------------- the validation split


def val_split(n=4):
    rng = np.random.default_rng(0)
    return {"images": rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), "labels": np.arange(n) % 7,
            "emotions": np.arange(n) % 7, "ids": [f"line {i}" for i in range(n)]}


def test_the_validation_split_reads_back_checked(tmp_path):
    run = Run(tmp_path)
    assert run.read_val_split() is None  # a run made before runs recorded it
    arrays = val_split()
    run.write_val_split(**arrays)
    found = run.read_val_split()
    for key, value in arrays.items():
        np.testing.assert_array_equal(found[key], np.asarray(value, dtype=str) if key == "ids" else value)
    np.savez(run.val_split, **{**arrays, "labels": np.arange(3)})
    with pytest.raises(FERError, match="holds labels of int64 shape \\(3,\\), not 4 values"):
        run.read_val_split()
    np.savez(run.val_split, **{**arrays, "images": np.array([object()], dtype=object)})
    with pytest.raises(FERError, match="cannot be read"):
        run.read_val_split()


def synthetic_run(folder, recorded_val=None):
    """A run folder of a baseline_cnn run on the synthetic set (n=300), with or without its validation split."""
    from fer_keras.data.synthetic import load_synthetic
    from fer_keras.training.variants import get_variant

    folder.mkdir(parents=True)
    data = load_synthetic(n_samples=300, seed=0)
    config = {"variant": get_variant("baseline_cnn").to_dict(), "seed": 0,
              "data": {"source": "synthetic(n=300, seed=0)", "fingerprint": data.fingerprint}}
    (folder / "config.json").write_text(json.dumps(config))
    if recorded_val is not None:
        Run(folder).write_val_split(**recorded_val)
    return data


def test_readers_take_the_recorded_validation_split_and_make_it_again_only_for_old_runs(tmp_path):
    from fer_keras.evaluation.evaluate import rebuild_test_split, run_val_split
    from fer_keras.training.variants import get_variant

    data = synthetic_run(tmp_path / "old")
    rebuilt = run_val_split(tmp_path / "old")
    expected = rebuild_test_split(get_variant("baseline_cnn"), data, 0, part="val")
    np.testing.assert_array_equal(rebuilt.x, expected.x)
    np.testing.assert_array_equal(rebuilt.labels, expected.labels)

    arrays = val_split(5)
    synthetic_run(tmp_path / "new", arrays)
    (tmp_path / "new" / "config.json").write_text((tmp_path / "new" / "config.json").read_text().replace(
        "synthetic(n=300, seed=0)", "no/such/data.csv"))  # the recorded split needs no data
    recorded = run_val_split(tmp_path / "new")
    np.testing.assert_array_equal(np.rint(recorded.x[..., 0] * 255), arrays["images"])
    np.testing.assert_array_equal(recorded.labels, arrays["labels"])
    assert len(recorded.class_names) == 7 and not recorded.leaky


def test_a_held_out_run_is_resumed_only_by_a_held_out_command():
    import dataclasses
    from types import SimpleNamespace

    from fer_keras.training.options import TrainOptions
    from fer_keras.training.record import resume_key

    options = TrainOptions.resolve("baseline_cnn")
    data = SimpleNamespace(recipe=options.recipe, teacher=None, init=None, dataset=SimpleNamespace(fingerprint="f"),
                           epochs=3, batch_size=64, policy="float32", per_class=None)
    held_out = dataclasses.replace(options, hold_out_test=True)
    assert resume_key(held_out, data) != resume_key(options, data)
    assert resume_key(dataclasses.replace(options), data) == resume_key(options, data)  # a key of settings only
