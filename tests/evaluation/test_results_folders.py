"""Crash-consistent results folders (issue 25 item 7): an evaluation's outputs appear together. The
folder is built in a temporary sibling and swapped into place, so a failure or a kill between two
files leaves the previous evaluation whole; what a killed writer left is removed on the next start."""

import json
import os
import signal
import subprocess
from pathlib import Path
import sys

import numpy as np
import pytest

from fer_keras import EMOTIONS
from fer_keras.evaluation import evaluate
from fer_keras.evaluation.evaluate import evaluation_fields, write_results
from fer_keras.files import remove_stale_temporaries, replace_folder

from conftest import REPO

HISTORY = "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.2,1.9,0.25,1.8\n1,0.3,1.7,0.3,1.7\n"


def metrics(seed):
    rng = np.random.default_rng(seed)
    truth, predicted = rng.integers(0, 7, 60), rng.integers(0, 7, 60)
    return {**evaluation_fields(truth, predicted, EMOTIONS), "variant": f"evaluation {seed}", "best_epoch": 2,
            "epochs_run": 2}


def contents(folder):
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden(folder):
    """Temporary names (``.<name>.*``) in ``folder`` and in the folders it holds."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


@pytest.fixture
def evaluated(tmp_path):
    """A results folder written once, by a first evaluation (with training curves and a config)."""
    (tmp_path / "history.csv").write_text(HISTORY)
    (tmp_path / "config.json").write_text(json.dumps({"variant": {"name": "first"}}))
    out = tmp_path / "results" / "run"
    write_results(out, metrics(1), "run", config=tmp_path / "config.json", history_csv=tmp_path / "history.csv")
    assert sorted(os.listdir(out)) == ["config.json", "confusion_matrix.png", "curves.png", "metrics.json",
                                       "report.md"]
    return out


class Hook(Exception):
    """Raised by a test's hook between two files of an evaluation."""


def test_a_failure_between_two_files_leaves_the_previous_evaluation_whole(evaluated, tmp_path, monkeypatch):
    before = contents(evaluated)
    written = []
    real = evaluate.write_text

    def fail_at_the_report(path, text):  # metrics.json, the figures and config.json are written by then
        written.append(path.name)
        if path.name == "report.md":
            raise Hook("between metrics.json and report.md")
        real(path, text)

    monkeypatch.setattr(evaluate, "write_text", fail_at_the_report)
    with pytest.raises(Hook):
        write_results(evaluated, metrics(2), "run", config={"variant": {"name": "second"}},
                      history_csv=tmp_path / "history.csv")
    assert written == ["report.md"]  # the hook ran after the other files
    assert contents(evaluated) == before
    assert hidden(tmp_path / "results") == []
    monkeypatch.undo()

    write_results(evaluated, metrics(2), "run", config={"variant": {"name": "second"}})  # the next run
    assert json.loads((evaluated / "metrics.json").read_text())["variant"] == "evaluation 2"
    assert "curves.png" not in os.listdir(evaluated)  # nothing of the first evaluation is left
    assert hidden(tmp_path / "results") == []


KILL_AT_METRICS = """
import os, signal, sys
from pathlib import Path
from fer_keras.evaluation import evaluate
real = evaluate.write_json
def killed(path, value):
    if Path(path).name == "metrics.json":  # the figures and config.json are written: SIGKILL before the metrics
        os.kill(os.getpid(), signal.SIGKILL)
    real(path, value)
evaluate.write_json = killed
sys.path[:0] = [{here!r}, {tests!r}]  # this module and the conftest it imports
from test_results_folders import metrics
evaluate.write_results({out!r}, metrics(2), "run", config={{"variant": {{"name": "second"}}}})
"""


def test_a_kill_between_two_files_leaves_the_previous_evaluation_and_the_next_start_cleans_up(evaluated, tmp_path):
    before = contents(evaluated)
    code = KILL_AT_METRICS.format(here=str(Path(__file__).parent), tests=str(REPO / "tests"), out=str(evaluated))
    killed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert contents(evaluated) == before
    (left,) = hidden(tmp_path / "results")  # the killed writer's half-built folder
    assert left.startswith(".run.new-") and sorted(os.listdir(tmp_path / "results" / left)) == [
        "config.json", "confusion_matrix.png"]
    # what a writer of an older version left inside the folder: atomic_write's temporary files
    (evaluated / ".metrics.json.k2x9w.json").write_text('{"half": ')
    (evaluated / ".confusion_matrix.png.7hq1.png").write_bytes(b"")

    write_results(evaluated, metrics(3), "run", config={"variant": {"name": "third"}})  # the next start
    assert json.loads((evaluated / "metrics.json").read_text())["variant"] == "evaluation 3"
    assert hidden(tmp_path / "results") == []


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_kill_inside_the_swap_puts_the_previous_folder_back(tmp_path):
    """Killed between the swap's two renames: the folder is missing, the previous one kept aside."""
    results = tmp_path / "results"
    pid = dead_pid()
    aside = results / f".run.old-{pid}-a1b2c3"
    aside.mkdir(parents=True)
    (aside / "metrics.json").write_text("{}")
    half = results / f".run.new-{pid}-d4e5f6"
    half.mkdir()
    mine = results / f".other.new-{os.getpid()}-g7h8"  # a live writer's folder is left alone
    mine.mkdir()
    remove_stale_temporaries(results)
    assert sorted(os.listdir(results)) == [mine.name, "run"]
    assert os.listdir(results / "run") == ["metrics.json"]


def test_a_reevaluated_run_keeps_its_other_files_and_a_reused_name_does_not(evaluated):
    (evaluated / "saliency_gradient.png").write_bytes(b"a saliency grid")
    write_results(evaluated, metrics(2), "run", merge=True)
    assert (evaluated / "saliency_gradient.png").read_bytes() == b"a saliency grid"
    saved = json.loads((evaluated / "metrics.json").read_text())
    assert saved["variant"] == "evaluation 2" and saved["best_epoch"] == 2  # merged
    assert "curves.png" not in os.listdir(evaluated) and "config.json" not in saved["files"]
    write_results(evaluated, metrics(3), "run")
    assert "saliency_gradient.png" not in os.listdir(evaluated)


def test_a_results_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("a file")
    from fer_keras.errors import FERError

    with pytest.raises(FERError, match="is a file, not a folder"):
        replace_folder(tmp_path / "run", lambda folder: None)
    assert (tmp_path / "run").read_text() == "a file"
