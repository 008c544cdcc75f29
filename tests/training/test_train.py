"""The training CLI end to end on a small synthetic CSV: outputs, reload in safe mode, resume."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate

from conftest import REPO

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)

VARIANT = "cnn_lstm_first"


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    return write_csv(generate(n_samples=700, seed=3).data, tmp_path_factory.mktemp("data") / "small.csv")


def train_cli(workdir, data, *extra, wait=True, variant=VARIANT):
    command = [sys.executable, "-m", "fer_keras.train", "--variant", variant, "--data", str(data), *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if wait:
        return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=600, env=env)
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)


def test_a_run_writes_checkpoint_logs_history_config_and_metrics(tmp_path, small_csv):
    result = train_cli(tmp_path, small_csv, "--epochs", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    assert run_dir.name.startswith(f"{VARIANT}-")
    assert len(pd.read_csv(run_dir / "history.csv")) == 2
    assert list((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert not (run_dir / "backup").exists()  # removed once a run completes
    config = json.loads((run_dir / "config.json").read_text())
    assert config["variant"]["name"] == VARIANT and config["seed"] == 0
    assert config["data"]["source"] == str(small_csv) and len(config["data"]["fingerprint"]) == 16
    assert {"keras", "backend", "numpy"} <= set(config["versions"])
    metrics = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs_run"] == 2
    assert f"{VARIANT}: test accuracy" in result.stdout
    tf_cpp_lines = [line for line in result.stderr.splitlines() if re.match(r"[EWI]\d{4} ", line)]
    assert not tf_cpp_lines, f"TensorFlow's C++ log leaked into the output: {tf_cpp_lines}"

    import keras

    model = keras.saving.load_model(run_dir / "best.keras", safe_mode=True)
    probabilities = model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0)
    assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)

    # a run made before runs recorded their splits gets the same ones recorded afterwards
    splits = ("test_split.npz", "val_split.npz")
    recorded = {name: dict(np.load(run_dir / name, allow_pickle=False)) for name in splits}
    assert len(recorded["val_split.npz"]["images"]) == config["prepared"]["val"] > 0
    for name in splits:
        (run_dir / name).unlink()
    result = train_cli(tmp_path, small_csv, "--record-split", str(run_dir))
    assert result.returncode == 0 and all(name in result.stdout for name in splits), result.stderr[-2000:]
    for name in splits:
        again = dict(np.load(run_dir / name, allow_pickle=False))
        assert set(again) == set(recorded[name])
        assert all(np.array_equal(again[k], recorded[name][k]) for k in again)
    result = train_cli(tmp_path, small_csv, "--record-split", str(run_dir))  # never overwritten
    assert result.returncode == 2 and "exists already" in result.stderr and "Traceback" not in result.stderr


def test_a_held_out_run_scores_the_validation_split_only_and_is_evaluated_later(tmp_path, small_csv):
    result = train_cli(tmp_path, small_csv, "--epochs", "1", "--hold-out-test")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    assert not (tmp_path / "results").exists()  # nothing was scored on the test split
    assert "test accuracy" not in result.stdout and "test split held out" in result.stdout
    trained = json.loads((run_dir / "trained.json").read_text())
    shown = re.search(r"validation accuracy (0\.\d{3})", result.stdout).group(1)
    assert shown == f"{trained['validation']['accuracy']:.3f}"
    assert not (run_dir / "backup").exists()  # finished: a second command trains a new run, not this one

    command = [sys.executable, "-m", "fer_keras.evaluate", "--run", str(run_dir), "--timing-calls", "0"]
    later = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    assert later.returncode == 0, later.stderr[-2000:]
    metrics = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["train_cpu_minutes"] == trained["train_cpu_minutes"]


KILLED = ("--epochs", "6", "--recipe", "modern")


def test_killed_run_resumes_from_its_last_completed_epoch(tmp_path, small_csv):
    # the modern recipe: crop + flip augmentation and a planned cosine, on top of what every run resumes
    process = train_cli(tmp_path, small_csv, *KILLED, wait=False)
    history = None
    deadline = time.time() + 400
    while time.time() < deadline and process.poll() is None:
        found = list((tmp_path / "callbacks").glob("*/history.csv"))
        if found and len(found[0].read_text().splitlines()) >= 3:  # header + 2 epochs
            history = found[0]
            break
        time.sleep(0.2)
    assert history is not None, "the run never finished two epochs"
    os.killpg(process.pid, signal.SIGKILL)  # mid-epoch 3: no clean shutdown
    process.wait()
    done_before = len(pd.read_csv(history))
    assert 2 <= done_before < 6 and (history.parent / "backup").exists()
    created = json.loads((history.parent / "config.json").read_text())["created"]
    seconds_before = pd.read_csv(history)["epoch_seconds"].sum()

    result = train_cli(tmp_path, small_csv, *KILLED)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"resuming the interrupted run in {history.parent.relative_to(tmp_path)}" in result.stdout
    assert len(list((tmp_path / "callbacks").iterdir())) == 1
    epochs = pd.read_csv(history)["epoch"].tolist()
    assert epochs == list(range(6)), epochs  # continued from the last completed epoch, none repeated
    config = json.loads((history.parent / "config.json").read_text())
    assert config["created"] == created and len(config["resumed"]) == 1  # the run keeps its birth date
    metrics = json.loads((tmp_path / "results" / history.parent.name / "metrics.json").read_text())
    accuracy = pd.read_csv(history)["val_accuracy"]
    assert metrics["best_epoch"] == int(accuracy.idxmax()) + 1  # best.keras is the best of both sessions
    assert metrics["train_minutes_all_sessions"] * 60 > seconds_before

    # nothing lost or replaced: the same command run without interruption gives the same epochs, checkpoint
    # and test metrics (weights, optimizer, learning-rate plateau, batch order and dropout draws all resumed)
    straight = tmp_path / "uninterrupted"
    straight.mkdir()
    result = train_cli(straight, small_csv, *KILLED)
    assert result.returncode == 0, result.stderr[-2000:]
    (straight_run,) = (straight / "callbacks").iterdir()
    columns = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    resumed_history = pd.read_csv(history)[columns].to_numpy()
    straight_history = pd.read_csv(straight_run / "history.csv")[columns].to_numpy()
    np.testing.assert_allclose(resumed_history, straight_history, rtol=2e-3, atol=2e-3)
    straight_metrics = json.loads((straight / "results" / straight_run.name / "metrics.json").read_text())
    assert straight_metrics["best_epoch"] == metrics["best_epoch"]
    assert abs(straight_metrics["test_accuracy"] - metrics["test_accuracy"]) <= 0.005


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    from fer_keras.runs.folder import Run

    paths = {Run.create(tmp_path, "v").path for _ in range(3)}
    assert len(paths) == 3 and all(p.is_dir() for p in paths)


def test_a_resumed_runs_checkpoint_starts_from_the_best_value_already_reached(tmp_path):
    import keras

    from fer_keras.training.callbacks import CallbackConfig, callback_suite

    pd.DataFrame({"epoch": [0, 1, 2], "val_accuracy": [0.70, 0.8022, 0.79], "val_loss": [1.0, 0.8, 0.9]}).to_csv(
        tmp_path / "history.csv", index=False)
    (checkpoint,) = [c for c in callback_suite(tmp_path, CallbackConfig(), tensorboard=False)
                     if isinstance(c, keras.callbacks.ModelCheckpoint)]
    assert checkpoint.best == pytest.approx(0.8022)  # a worse later epoch (0.79) can no longer replace it
    (fresh,) = [c for c in callback_suite(tmp_path / "new", CallbackConfig(), tensorboard=False)
                if isinstance(c, keras.callbacks.ModelCheckpoint)]
    assert fresh.best in (None, -float("inf"))  # no threshold: the first epoch is saved


def test_a_resumed_runs_early_stopping_keeps_its_wait_count(tmp_path):
    from fer_keras.training.callbacks import resumable_early_stopping
    from fer_keras.runs.folder import Run

    history = pd.DataFrame({"epoch": [0, 1, 2, 3, 4], "val_loss": [1.0, float("nan"), 0.8, 0.9, 0.95]})
    history.to_csv(tmp_path / "history.csv", index=False)
    stopping = resumable_early_stopping(Run(tmp_path), monitor="val_loss", patience=5, mode="min")
    stopping.on_train_begin()
    assert stopping.best == pytest.approx(0.8) and stopping.wait == 2


def test_a_resumed_runs_plateau_keeps_its_best_and_wait_count(tmp_path):
    from fer_keras.training.callbacks import resumable_plateau
    from fer_keras.runs.folder import Run

    # patience 2, min_delta 1e-4: epochs 3 and 4 do not improve on 0.8 (0.79995 is within min_delta) → the rate
    # fell after epoch 4 and the wait restarted; epoch 5 does not improve either → wait 1
    history = pd.DataFrame({"epoch": range(6), "val_loss": [1.0, 0.9, 0.8, 0.85, 0.79995, 0.9]})
    history.to_csv(tmp_path / "history.csv", index=False)
    plateau = resumable_plateau(Run(tmp_path), monitor="val_loss", patience=2, min_delta=1e-4, mode="min")
    plateau.on_train_begin()
    assert plateau.best == pytest.approx(0.8) and plateau.wait == 1
    since = resumable_plateau(Run(tmp_path), since=4, monitor="val_loss", patience=2, mode="min")
    since.on_train_begin()  # a stage that began at epoch 4 counts from there
    assert since.best == pytest.approx(0.79995) and since.wait == 1
    with pytest.raises(ValueError, match="without cooldown or min_lr"):
        resumable_plateau(Run(tmp_path), monitor="val_loss", cooldown=1)


def test_epoch_seeds_give_a_resumed_run_the_dropout_masks_of_an_uninterrupted_one(tmp_path):
    import keras

    from fer_keras.training.callbacks import epoch_seeds

    x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")

    def new_model():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.Dropout(0.5), keras.layers.Dense(2, activation="softmax")])
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        return model

    def fit(model, epochs, initial_epoch=0):
        return model.fit(x, y, batch_size=32, shuffle=False, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                         callbacks=[epoch_seeds()]).history["loss"]

    straight = fit(new_model(), 4)
    interrupted = new_model()
    fit(interrupted, 2)
    resumed = new_model()  # a new process: weights and optimizer restored, its seed generators start again
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.set_weights(interrupted.get_weights())
    for mine, theirs in zip(resumed.optimizer.variables, interrupted.optimizer.variables):
        mine.assign(theirs)
    tail = fit(resumed, 4, initial_epoch=2)
    np.testing.assert_allclose(tail, straight[2:], rtol=1e-5)


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.csv"], "no such file or folder"),
    (["--epochs", "0"], "--epochs must be a whole number in [1, 100000], got 0"),
    (["--output-dir", "a_file"], "--output-dir a_file is a file, not a folder"),
    (["--results-dir", "a_file/results"], "--results-dir a_file/results lies inside the file a_file"),
])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, args, message):
    (tmp_path / "a_file").write_text("not a folder")
    result = subprocess.run([sys.executable, "-m", "fer_keras.train", "--variant", VARIANT, *args], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()


def test_mixed_precision_is_bfloat16_on_such_a_cpu_and_falls_back_to_float32_elsewhere(capsys, monkeypatch):
    import keras

    from fer_keras import runtime
    from fer_keras.training.preparation import set_precision

    monkeypatch.setattr(runtime, "gpu_available", lambda: False)
    try:
        monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: False)
        assert set_precision(True) == "float32" and keras.mixed_precision.global_policy().name == "float32"
        assert "no GPU and no native bfloat16" in capsys.readouterr().out
        monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: True)
        assert set_precision(True) == "mixed_bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        assert "bfloat16 on this CPU" in capsys.readouterr().out
        assert set_precision(True, bfloat16_pays=False) == "float32"  # a CPU preset measured faster in float32
        assert keras.mixed_precision.global_policy().name == "float32"
        assert "trains faster than with bfloat16" in capsys.readouterr().out
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_budgeted_modern_run_records_its_recipe_and_plan(tmp_path, small_csv):
    result = subprocess.run(
        [sys.executable, "-m", "fer_keras.train", "--variant", "fernet_t", "--data", str(small_csv), "--time-budget",
         "0.5", "--set", "warmup_epochs=1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["recipe"]["name"] == "modern_sgd" and config["recipe"]["optimizer"] == "sgd"  # FERNet's recipe
    assert config["recipe"]["warmup_epochs"] == 1.0 and config["time_budget_minutes"] == 0.5
    from fer_keras.training.recipes import Recipe

    assert Recipe.from_dict(config["recipe"]).schedule == "cosine"
    metrics = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    history = pd.read_csv(run_dir / "history.csv")
    assert metrics["epochs_run"] == len(history) == metrics["planned_epochs"] >= 2
    budget = json.loads((run_dir / "budget.json").read_text())
    assert metrics["train_minutes"] * 60 <= 30 + max(budget["epoch_seconds"]) + 5 and metrics["train_cpu_minutes"] > 0
    assert history["learning_rate"].iloc[-1] < 0.3 * history["learning_rate"].max()


KILL_AT_CHECKPOINT = """
import os, signal, keras
save = keras.callbacks.ModelCheckpoint._save_model
def killed(self, epoch, batch, logs):
    if epoch == 2:  # the third epoch's checkpoint: half a file, then SIGKILL inside the save
        with open(self.filepath, "wb") as handle:
            handle.write(b"PK\\x03\\x04 half a zip")
        os.kill(os.getpid(), signal.SIGKILL)
    return save(self, epoch, batch, logs)
keras.callbacks.ModelCheckpoint._save_model = killed
"""
KILL_BEFORE_METRICS = """
import os, signal, fer_keras.evaluation.evaluate
fer_keras.evaluation.evaluate.evaluate_run = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
"""
CONSISTENT = ("--epochs", "4", "--recipe", "modern")


def train_killed(workdir, data, prelude, *extra):
    """``python -m fer_keras.train`` with ``prelude`` run first in the same process (a kill hook)."""
    code = prelude + f"\nimport sys\nfrom fer_keras.training.train import main\nsys.exit(main({list(extra)!r}))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=600,
                          env=env)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, small_csv):
    folder = tmp_path_factory.mktemp("uninterrupted")
    result = train_cli(folder, small_csv, *CONSISTENT)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = (folder / "callbacks").iterdir()
    return run, json.loads((folder / "results" / run.name / "metrics.json").read_text())


@pytest.mark.parametrize("prelude, trained_before", [(KILL_AT_CHECKPOINT, 2), (KILL_BEFORE_METRICS, 4)],
                         ids=["inside-the-checkpoint-write", "after-training-before-metrics"])
def test_a_run_killed_at_a_commit_point_resumes_to_the_uninterrupted_result(
        tmp_path, small_csv, uninterrupted, prelude, trained_before):
    args = ["--variant", VARIANT, "--data", str(small_csv), *CONSISTENT]
    killed = train_killed(tmp_path, small_csv, prelude, *args)
    assert killed.returncode == -signal.SIGKILL
    (run,) = (tmp_path / "callbacks").iterdir()
    assert len(pd.read_csv(run / "history.csv")) >= trained_before and (run / "backup").is_dir()
    assert not (tmp_path / "results" / run.name / "metrics.json").exists()

    result = train_cli(tmp_path, small_csv, *CONSISTENT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "callbacks").iterdir())) == 1  # the same folder, resumed or evaluated
    if trained_before == 4:
        assert "finished training; evaluating it" in result.stdout
    assert not (run / "backup").exists() and not list(run.glob(".*"))  # finished: no backup, no partial file
    straight_run, straight = uninterrupted
    columns = ["loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"]
    assert pd.read_csv(run / "history.csv")["epoch"].tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(pd.read_csv(run / "history.csv")[columns].to_numpy(),
                               pd.read_csv(straight_run / "history.csv")[columns].to_numpy(), rtol=2e-3, atol=2e-3)
    metrics = json.loads((tmp_path / "results" / run.name / "metrics.json").read_text())
    assert metrics["best_epoch"] == straight["best_epoch"]
    assert abs(metrics["test_accuracy"] - straight["test_accuracy"]) <= 0.005


@pytest.mark.parametrize("extra, message", [
    (["--recipe", "fast"], "error: unknown recipe 'fast'; expected one of paper, modern"),
    (["--time-budget", "-1"], "error: --time-budget must be a finite number in (0, 525600], got -1"),
    (["--time-budget", "inf"], "error: --time-budget must be a finite number in (0, 525600], got inf"),
    (["--size", "gpu"], "error: unknown --size 'gpu'; expected one of paper, cpu"),
    (["--budget-clock", "moon"], "error: --budget-clock must be wall or cpu, got 'moon'"),
    (["--precise-bn", "maybe"], "error: --precise-bn must be one of auto, on, off, got 'maybe'"),
    (["--teacher", "no/such/run"], "error: no/such/run is not a training run"),
    (["--set", "optimizer=rmsprop"], "error: recipe 'paper': unknown optimizer 'rmsprop'; expected one of adam, "
                                     "adamw, sgd"),
    (["--set", "schedule=step"], "error: recipe 'paper': unknown schedule 'step'; expected one of plateau, constant, "
                                 "cosine, onecycle"),
    (["--time-budget", "0.0001"], "too small for one epoch, which takes about"),
    (["--set", "model.widht=3"], "cnn_lstm_first takes model.KEY=VALUE with KEY one of"),
    (["--set", "model.region=ear"], "unknown face region 'ear'; expected one of left_eye"),
    # found after the run folder was made, before: an empty, unresumable folder was left behind
    (["--recipe", "snapshot", "--set", "cycles=5", "--epochs", "2"], "error: 5 snapshot cycles need at least 5 "
                                                                     "epochs, but the run is planned for 2"),
    (["--set", "crop_padding=400000"], "error: --set crop_padding must be a whole number in [0, 24], got 400000"),
])
def test_bad_recipe_or_budget_is_one_line_exit_2_and_writes_nothing(tmp_path, small_csv, extra, message):
    result = train_cli(tmp_path, small_csv, *extra)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()


def test_early_stopping_leaves_the_weights_to_the_checkpoint(tmp_path):
    import keras

    from fer_keras.training.callbacks import CallbackConfig, callback_suite

    # the run is judged by best.keras (checkpoint monitor); restoring the early-stopping monitor's
    # best epoch printed "Restoring … best epoch: 15" beside "best epoch 13/15"
    (stopping,) = [c for c in callback_suite(tmp_path, CallbackConfig(), tensorboard=False)
                   if isinstance(c, keras.callbacks.EarlyStopping)]
    assert stopping.restore_best_weights is False


def test_googlenet_trains_with_aux_heads_and_saves_a_one_output_best_keras(tmp_path, small_csv):
    result = train_cli(tmp_path, small_csv, "--epochs", "1", variant="googlenet_trinh")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    history = pd.read_csv(run_dir / "history.csv")
    assert {"aux1_loss", "aux2_loss", "val_predictions_accuracy"} <= set(history.columns)
    # the main output's accuracy under the plain names, which the variant's monitors and runs.py read
    assert history["val_accuracy"].tolist() == history["val_predictions_accuracy"].tolist()
    assert history["accuracy"].tolist() == history["predictions_accuracy"].tolist()
    metrics = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and (metrics["best_epoch"], metrics["epochs_run"]) == (1, 1)

    import keras

    model = keras.saving.load_model(run_dir / "best.keras", safe_mode=True)
    assert len(model.outputs) == 1 and model.output_names == ["predictions"]
    assert not [layer.name for layer in model.layers if layer.name.startswith("aux")]
    probabilities = model.predict(np.zeros((2, 48, 48, 1), "float32"), verbose=0)
    assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_aux_callback_suite_logs_main_accuracy_and_checkpoints_the_trained_inference_model(tmp_path):
    import keras

    from fer_keras.training.batches import per_output
    from fer_keras.training.callbacks import callback_suite
    from fer_keras.models import build_googlenet, compile_model, inference_model

    model = compile_model(build_googlenet(input_shape=(16, 16, 1), auxiliary=True), optimizer="sgd")
    x = np.random.default_rng(0).random((16, 16, 16, 1), dtype=np.float32)
    y = per_output(np.eye(7, dtype="float32")[np.arange(16) % 7], model.output_names)
    model.fit(x, y, validation_data=(x, y), epochs=1, verbose=0,
              callbacks=callback_suite(tmp_path, tensorboard=False, aux_outputs=True))
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["val_accuracy"].tolist() == history["val_predictions_accuracy"].tolist()
    saved = keras.saving.load_model(tmp_path / "best.keras", safe_mode=True)
    assert len(saved.outputs) == 1  # the checkpoint is the inference model, with the weights trained
    np.testing.assert_allclose(saved.predict(x, verbose=0), inference_model(model).predict(x, verbose=0), atol=1e-5)
