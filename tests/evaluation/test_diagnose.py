"""The collapse diagnosis: BatchNorm re-estimation, dead ReLU units, and the CLI on a real run folder."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow  # a trained run for every test: the slow tier (python -m pytest -m slow)


def test_recalibrated_batchnorm_holds_the_datas_statistics_and_keeps_its_momentum():
    import keras

    from fer_keras.training.health import recalibrate_batchnorm

    norm = keras.layers.BatchNormalization(momentum=0.99)
    model = keras.Sequential([keras.Input((3,)), norm])
    norm.moving_mean.assign(np.full(3, 100.0, dtype="float32"))  # stale statistics, far from the data
    x = np.random.default_rng(0).normal([1.0, -2.0, 5.0], [1.0, 2.0, 0.5], size=(1024, 3)).astype("float32")
    assert recalibrate_batchnorm(model, x, batch_size=128) == 1
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), x.mean(axis=0), atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance), x.var(axis=0), rtol=0.02)
    assert norm.momentum == 0.99


def test_a_dead_relu_layer_has_no_live_units():
    import keras

    from fer_keras.training.health import live_units

    x = np.random.default_rng(0).random((64, 48, 48, 1), dtype=np.float32)
    inputs = keras.Input((48, 48, 1))
    flat = keras.layers.Flatten()(inputs)
    alive = keras.layers.Dense(8, activation="relu", name="alive")(flat)
    dead = keras.layers.Dense(4, activation="relu", name="dead", bias_initializer=keras.initializers.Constant(-1.0),
                              kernel_initializer="zeros")(alive)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(dead))
    found = live_units(model, x)
    assert found["dead"] == (0, 4) and 0 < found["alive"][0] <= 8 and set(found) == {"alive", "dead"}
    tokens = keras.layers.Reshape((48, 48))(inputs)  # a Dense layer on a sequence: units, not token × unit pairs
    sequence = keras.Model(inputs, keras.layers.Dense(5, activation="relu", name="per_token")(tokens))
    live, total = live_units(sequence, x)["per_token"]
    assert total == 5 and 0 < live <= 5


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from fer_keras.training.train import train

    out = tmp_path_factory.mktemp("diagnose")
    train("baseline_cnn", "synthetic", epochs=6, output_dir=out / "callbacks", results_dir=out / "results", verbose=0)
    (run_dir,) = (out / "callbacks").iterdir()
    return run_dir


def test_the_cli_diagnoses_a_run_and_writes_json(trained_run, tmp_path):
    done = subprocess.run([sys.executable, "-m", "fer_keras.diagnose", str(trained_run), "--faces", "200",
                           "--json", str(tmp_path / "d.json")], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    (found,) = json.loads((tmp_path / "d.json").read_text())
    assert found["run"] == trained_run.name and found["faces"] == 200
    assert found["batchnorm_layers"] > 0 and 0 <= found["accuracy_recalibrated"] <= 1
    assert found["accuracy"] > 0.5 and not found["collapsed"]  # a trained model on learnable faces
    assert f"{trained_run.name}: validation accuracy" in done.stdout


def test_recalibration_recovers_a_model_whose_batchnorm_statistics_are_stale(trained_run, tmp_path):
    import keras

    from fer_keras.evaluation.diagnose import describe, diagnose_run
    from fer_keras.training.health import batchnorm_layers

    healthy = diagnose_run(trained_run, n_faces=300)
    stale = tmp_path / trained_run.name
    stale.mkdir()
    for item in ("config.json", "history.csv", "test_split.npz"):
        (stale / item).write_bytes((trained_run / item).read_bytes())
    model = keras.saving.load_model(trained_run / "best.keras", safe_mode=True)
    for layer in batchnorm_layers(model):  # statistics of another distribution: the weights are the trained ones
        layer.moving_mean.assign(layer.moving_mean + 3.0)
        layer.moving_variance.assign(layer.moving_variance * 25.0)
    model.save(stale / "best.keras")
    found = diagnose_run(stale, n_faces=300)
    assert found["accuracy"] < healthy["accuracy"] - 0.2  # the stale statistics break it
    assert found["accuracy_recalibrated"] >= healthy["accuracy"] - 0.1  # re-estimated, it is itself again
    assert "BatchNorm's moving statistics lag" in describe(found)


def test_bad_faces_or_a_json_path_inside_a_file_is_one_line_exit_2(trained_run, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    for args, message in ((["--faces", "0"], "--faces must be a positive integer, got 0"),
                          (["--json", str(tmp_path / "a_file" / "d.json")], "d.json lies inside the file")):
        done = subprocess.run([sys.executable, "-m", "fer_keras.diagnose", str(trained_run), *args],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_folder_that_is_not_a_run_is_one_line_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "fer_keras.diagnose", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is not a training run" in done.stderr and "Traceback" not in done.stderr
