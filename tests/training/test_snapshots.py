"""Snapshot ensembles (Huang et al. 2017): the restarting cosine, one snapshot per cycle, cycle
boundaries that survive a resume, and the ensemble CLI over one run's snapshots."""

import json
import re

import keras
import numpy as np
import pandas as pd
import pytest

from fer_keras.evaluation import ensemble
from fer_keras.training import schedules
from fer_keras.training import snapshots
from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.errors import FERError
from fer_keras.training.recipes import RECIPES, Recipe, override, resolve_recipe, schedule_factor
from fer_keras.runs.folder import Run
from fer_keras.training.schedules import RunPlan, ScheduledLearningRate
from fer_keras.training.variants import get_variant

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)

RESTARTS = Recipe(name="r", optimizer="sgd", learning_rate=0.1, schedule="cosine_restarts", cycles=3)


def test_cosine_restarts_peaks_at_each_cycle_start_and_reaches_zero_at_each_cycle_end():
    planned = 12  # three cycles of 4 epochs
    for start in (0.0, 4.0, 8.0):
        assert schedule_factor(RESTARTS, (start, planned)) == pytest.approx(1.0)
        assert schedule_factor(RESTARTS, (start + 2.0, planned)) == pytest.approx(0.5)  # half-way down
        assert schedule_factor(RESTARTS, (start + 4.0 - 1e-9, planned)) == pytest.approx(0.0, abs=1e-12)
    assert schedule_factor(RESTARTS, (12.0, planned)) == pytest.approx(0.0, abs=1e-12)  # the plan's end
    warm = Recipe(name="w", optimizer="sgd", schedule="cosine_restarts", cycles=3, warmup_epochs=1.0)
    assert schedule_factor(warm, (0.5, planned)) == pytest.approx(0.5)  # the first cycle warms up …
    assert schedule_factor(warm, (4.5, planned)) > 0.95  # … the later ones restart at the peak


def test_per_batch_rates_restart_three_times_and_fall_to_near_zero_before_each_restart():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, strides=4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 48, 48, 1), dtype=np.float32), np.eye(7)[rng.integers(0, 7, 64)]
    rates = []
    log = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: rates.append(
        float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
    model.fit(x, y, batch_size=8, epochs=6, verbose=0, callbacks=[ScheduledLearningRate(RESTARTS, RunPlan(6)), log])
    rates = np.array(rates)  # 8 batches per epoch, 2 epochs (16 batches) per cycle
    assert len(rates) == 48
    np.testing.assert_allclose(rates[[0, 16, 32]], 0.1, rtol=1e-6)  # the three peaks
    assert (rates[[15, 31, 47]] < 0.1 * 0.011).all()  # (1 + cos(15π/16)) / 2 ≈ 0.0096 of the peak
    peaks = np.flatnonzero(np.diff(rates) > 0) + 1
    np.testing.assert_array_equal(peaks, [16, 32])  # falls monotonically within each cycle


def test_cycle_length_is_the_plan_split_equally_or_the_recorded_one():
    assert snapshots.cycle_epochs(3, 10) == 3
    assert snapshots.cycle_epochs(3, 10, recorded=5) == 5  # a resumed run keeps its cycles
    with pytest.raises(FERError, match="3 snapshot cycles need at least 3 epochs, but the run is planned for 2"):
        snapshots.cycle_epochs(3, 2)
    with pytest.raises(FERError, match=r"cycles must be a whole number in \[1, 1000\], got 0"):
        Recipe(name="bad", schedule="cosine_restarts", cycles=0)
    snapshot = resolve_recipe("snapshot", get_variant("fernet_t"))
    assert (snapshot.schedule, snapshot.cycles, snapshot.optimizer) == ("cosine_restarts", 3, "sgd")
    assert RECIPES["snapshot"].snapshots and not RECIPES["modern"].snapshots


class InterruptOnce(snapshots.SnapshotCheckpoint):
    """Stops the run as a Ctrl-C would, at the start of epoch 3 (after cycle 1's snapshot)."""

    interrupted = False

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2 and not InterruptOnce.interrupted:
            InterruptOnce.interrupted = True
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def snapshot_run(tmp_path_factory):
    """A fernet_t run, 3 cycles of 2 epochs under a time budget, interrupted after cycle 1 and
    resumed by the same call; on resume the budget's first plan differs (30 epochs instead of 6)."""
    from fer_keras.training.train import train

    workdir = tmp_path_factory.mktemp("snapshots")
    data = write_csv(generate(n_samples=700, seed=3).data, workdir / "small.csv")
    recipe = override(resolve_recipe("snapshot", get_variant("fernet_t")), ["warmup_epochs=0"])
    plans = iter([6, 30])
    kwargs = dict(data=str(data), batch_size=16, output_dir=workdir / "callbacks", results_dir=workdir / "results",
                  recipe=recipe, time_budget=60, verbose=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(schedules, "check_budget_fits", lambda *args, **kw: next(plans))
        patch.setattr(snapshots, "SnapshotCheckpoint", InterruptOnce)
        with pytest.raises(KeyboardInterrupt):
            train("fernet_t", **kwargs)
        (run_dir,) = (workdir / "callbacks").iterdir()
        before = [p.name for p in Run(run_dir).snapshot_files()]
        train("fernet_t", **kwargs)
    return workdir, Run(run_dir), before


def test_a_resumed_snapshot_run_keeps_its_cycles_and_writes_exactly_three_snapshots(snapshot_run):
    workdir, run, before = snapshot_run
    assert before == ["cycle_1.keras"]
    config = json.loads(run.config.read_text())
    assert config["resumed"] and config["snapshots"] == {"cycles": 3, "cycle_epochs": 2}
    assert [p.name for p in run.snapshot_files()] == ["cycle_1.keras", "cycle_2.keras", "cycle_3.keras"]
    assert sorted(p.name for p in run.snapshots.iterdir()) == ["cycle_1.keras", "cycle_2.keras", "cycle_3.keras"]
    rates = pd.read_csv(run.history)["learning_rate"].to_numpy()
    assert len(rates) == 6  # the resumed run ran to the recorded 3 × 2 epochs, not to the new plan of 30
    peak = config["recipe"]["learning_rate"]
    assert (rates[[1, 3, 5]] < 0.02 * peak).all()  # each cycle's last epoch ends near zero …
    assert (rates[[0, 2, 4]] > 0.4 * peak).all()  # … and the next one starts high again
    metrics = json.loads((workdir / "results" / run.name / "metrics.json").read_text())
    assert metrics["snapshots_written"] == 3 and metrics["epochs_run"] == 6


def test_ensemble_cli_over_the_snapshots_writes_member_single_and_ensemble_accuracy(snapshot_run, capsys):
    workdir, run, _ = snapshot_run
    assert ensemble.main(["--snapshots", str(run.path), "--results-dir", str(workdir / "results"),
                          "--timing-calls", "1"]) == 0
    out_dir = workdir / "results" / f"{run.name}-snapshots"
    metrics = json.loads((out_dir / "metrics.json").read_text())
    selection = metrics["selection"]
    assert set(selection["validation_accuracy_by_k"]) == {"1", "2", "3"} and selection["chosen_on_validation"]
    k = selection["k"]
    best = max(selection["validation_accuracy_by_k"].values())
    assert selection["validation_accuracy_by_k"][str(k)] == best  # chosen on PublicTest, not on the test split
    assert metrics["members"] == [f"cycle_{i}" for i in range(4 - k, 4)] and metrics["inference_cost_ratio"] == k
    assert set(metrics["member_accuracy"]) == {"cycle_1", "cycle_2", "cycle_3"}
    assert metrics["single_snapshot_accuracy"] == metrics["member_accuracy"]["cycle_3"]
    assert metrics["ensemble_gain"] == pytest.approx(metrics["test_accuracy"] - metrics["single_snapshot_accuracy"])
    assert metrics["inference_time_ratio"] > 0 and 0 <= metrics["all_snapshots_accuracy"] <= 1
    assert "the last snapshot alone" in capsys.readouterr().out
    assert "the last snapshot alone" in (out_dir / "report.md").read_text()

    assert ensemble.main(["--snapshots", str(run.path), "--last", "3", "--results-dir", str(workdir / "results"),
                          "--name", "all3", "--timing-calls", "0"]) == 0
    fixed = json.loads((workdir / "results" / "all3" / "metrics.json").read_text())
    assert fixed["members"] == ["cycle_1", "cycle_2", "cycle_3"] and not fixed["selection"]["chosen_on_validation"]
    assert fixed["test_accuracy"] == fixed["all_snapshots_accuracy"]


@pytest.mark.parametrize("extra, message", [
    (["--last", "4"], "--last 4: .* has 3 snapshots; give 1 to 3"),
    (["--method", "vote"], "--snapshots averages probabilities"),
])
def test_bad_snapshot_ensemble_arguments_are_one_line_exit_2(snapshot_run, capsys, extra, message):
    workdir, run, _ = snapshot_run
    with pytest.raises(SystemExit) as exit_:
        ensemble.main(["--snapshots", str(run.path), "--results-dir", str(workdir / "bad"), *extra])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1
    assert re.search(message, err) and not (workdir / "bad").exists()


def test_a_run_without_snapshots_is_refused_with_the_recipe_to_use(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FERError, match="has 0 snapshot.*--recipe snapshot"):
        ensemble.evaluate_snapshots(tmp_path)


def test_asked_epochs_that_do_not_divide_into_cycles_end_with_the_last_cycle(tmp_path):
    """--epochs 7 with 3 cycles: cycles of 2 epochs, and the run stops after the sixth (no epochs at
    the learning-rate floor after the last snapshot)."""
    from fer_keras.training.train import train

    data = write_csv(generate(n_samples=300, seed=4).data, tmp_path / "tiny.csv")
    recipe = override(resolve_recipe("snapshot", get_variant("fernet_t")), ["warmup_epochs=0"])
    metrics = train("fernet_t", data=str(data), epochs=7, batch_size=32, output_dir=tmp_path / "callbacks",
                    results_dir=tmp_path / "results", recipe=recipe, verbose=0)
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    assert len(Run(run_dir).read_history()) == metrics["epochs_run"] == 6
    assert [p.name for p in Run(run_dir).snapshot_files()] == ["cycle_1.keras", "cycle_2.keras", "cycle_3.keras"]
    assert json.loads((run_dir / "config.json").read_text())["stages"][0]["epochs"] == 6
