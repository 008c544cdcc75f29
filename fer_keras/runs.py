"""The run folder: the hand-over between training and everything after it.

One place names a run's files, creates run folders, finds an interrupted one to resume, and reads
what training recorded. ``train`` writes a run; ``evaluate``, ``ensemble``, ``saliency`` read it.

    callbacks/<variant>-<YYYYmmdd-HHMMSS>/
        best.keras     the best checkpoint (safe-mode loadable)
        config.json    the resolved settings: variant, recipe, data fingerprint, seed, versions
        history.csv    one row per epoch (CSVLogger)
        test_split.npz the test images the run is evaluated on (uint8), their labels, seven-class
                       emotions, source ids, and which have an exact copy in the source's Training rows
        budget.json    the time budget's bookkeeping (with --time-budget)
        snapshots/     cycle_1.keras … cycle_M.keras, one per learning-rate cycle (recipe "snapshot")
        logs/          TensorBoard event files
        backup/        BackupAndRestore state while the run is unfinished
"""

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fer_keras.data.io import atomic_write
from fer_keras.errors import FERError

BEST = "best.keras"
CONFIG = "config.json"
HISTORY = "history.csv"
BUDGET = "budget.json"
TEST_SPLIT = "test_split.npz"
LOGS = "logs"
BACKUP = "backup"
SNAPSHOTS = "snapshots"
METRICS = "metrics.json"
"""The metrics file of a run's results folder (``results/<run>/``)."""


@dataclass(frozen=True)
class Run:
    """A run folder and the paths of its files."""

    path: Path

    @property
    def name(self):
        return self.path.name

    @property
    def best(self):
        return self.path / BEST

    @property
    def config(self):
        return self.path / CONFIG

    @property
    def history(self):
        return self.path / HISTORY

    @property
    def budget(self):
        return self.path / BUDGET

    @property
    def test_split(self):
        return self.path / TEST_SPLIT

    @property
    def logs(self):
        return self.path / LOGS

    @property
    def backup(self):
        return self.path / BACKUP

    @property
    def snapshots(self):
        return self.path / SNAPSHOTS

    def snapshot(self, cycle):
        """The snapshot saved at the end of learning-rate cycle ``cycle`` (1-based)."""
        return self.snapshots / f"cycle_{cycle}.keras"

    def snapshot_files(self):
        """The snapshots written so far, in cycle order (see :meth:`snapshot`)."""
        found = {int(p.stem.removeprefix("cycle_")): p for p in self.snapshots.glob("cycle_*.keras")
                 if p.stem.removeprefix("cycle_").isdigit()}
        return [found[cycle] for cycle in sorted(found)]

    @classmethod
    def create(cls, output_dir, variant_name):
        """A new, empty run folder ``output_dir/<variant>-<time>``."""
        stem = Path(output_dir) / f"{variant_name}-{datetime.now():%Y%m%d-%H%M%S}"
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        for n in range(1, 1000):  # two runs started in the same second get -2, -3, …
            path = stem if n == 1 else stem.with_name(f"{stem.name}-{n}")
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise FERError(f"cannot create a run folder next to {stem}")

    def read_config(self):
        """The run's ``config.json`` as a dict; a clear error if this is not a run folder."""
        if not self.config.is_file():
            raise FERError(f"{self.path} is not a training run: no {CONFIG} in it "
                           "(runs live in callbacks/<variant>-<time>/)")
        try:
            return json.loads(self.config.read_text())
        except json.JSONDecodeError as err:
            raise FERError(f"{self.config} is not valid JSON ({err})") from None

    def write_test_split(self, images, labels, emotions, ids, in_training):
        """Record the test split (uint8 N×48×48 images, model labels, seven-class emotions, source
        ids, copy-in-Training mask), so that evaluation reads it instead of re-preparing the data."""
        import numpy as np

        atomic_write(self.test_split, lambda tmp: np.savez_compressed(
            tmp, images=images, labels=labels, emotions=emotions, ids=np.asarray(ids, dtype=str),
            in_training=in_training))

    def read_test_split(self):
        """The recorded test split as a dict of arrays (see :meth:`write_test_split`)."""
        import numpy as np

        if not self.test_split.is_file():
            raise FERError(f"{self.path} has no {TEST_SPLIT}: it was made before runs recorded their test split; "
                           "evaluate its model with --model FILE --data PATH --variant NAME instead")
        with np.load(self.test_split, allow_pickle=False) as found:
            return {key: found[key] for key in found.files}

    def read_history(self):
        """``history.csv`` as a DataFrame; empty for a new run (CSVLogger may have opened it
        without a row yet)."""
        import pandas as pd

        try:
            return pd.read_csv(self.history)
        except (FileNotFoundError, pd.errors.EmptyDataError):
            return pd.DataFrame()

    def best_row(self, monitor, since=0):
        """(row index, value) of the best ``monitor`` value so far (lowest for a loss, highest
        otherwise; NaN epochs skipped) from row ``since`` on, or None when there is no such value."""
        history = self.read_history().iloc[since:]
        if monitor not in history or history[monitor].isna().all():
            return None
        row = history[monitor].idxmin() if monitor.endswith("loss") else history[monitor].idxmax()
        return int(row), float(history.loc[row, monitor])

    def best_epoch(self, monitor):
        """(best epoch, 1-based, by ``monitor``; epochs run) from the history; (None, n) if the
        history lacks the monitor, (None, None) without a history."""
        history = self.read_history()
        if history.empty:
            return None, None
        best = self.best_row(monitor)
        return (None if best is None else int(history.loc[best[0], "epoch"]) + 1), len(history)


def find_resumable(output_dir, resume_key):
    """The newest unfinished run (``backup/`` still present) made with the same settings, or None."""
    for path in sorted(Path(output_dir).glob("*/"), reverse=True):
        run = Run(path)
        if run.backup.is_dir() and run.config.exists():
            try:
                if json.loads(run.config.read_text()).get("resume_key") == resume_key:
                    return run
            except (json.JSONDecodeError, OSError):
                continue
    return None


def check_output_dir(path, option="--output-dir"):
    """Refuse, before any work, an output folder that is a file, lies inside a file, or cannot be
    written; creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FERError(f"{option} {path} is a file, not a folder; give a folder (it is created if missing)")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise FERError(f"{option} {path} lies inside the file {existing}; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise FERError(f"{option} {path} cannot be written ({existing} is read-only); give a writable folder")
    return path


def write_text(path, text):
    """Write ``text`` atomically (see ``fer_keras.data.io.atomic_write``): a crash never leaves half
    a file."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path, value):
    """Write ``value`` as indented JSON, atomically."""
    write_text(path, json.dumps(value, indent=2))
