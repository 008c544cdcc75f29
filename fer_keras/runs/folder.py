"""The run folder: the hand-over between training and everything after it.

One place names a run's files, creates run folders, finds an interrupted one to resume, and reads
what training recorded. ``train`` writes a run; ``evaluate``, ``ensemble``, ``saliency`` read it.

    callbacks/<variant>-<YYYYmmdd-HHMMSS>/
        best.keras     the best checkpoint (safe-mode loadable)
        config.json    the resolved settings: variant, recipe, data fingerprint, seed, versions
        history.csv    one row per epoch (CSVLogger)
        test_split.npz the test images the run is evaluated on (uint8), their labels, seven-class
                       emotions, source ids, and which have an exact copy in the source's Training rows
        val_split.npz  the validation images (uint8), their labels, emotions and source ids: where
                       ensembles, the region vote and diagnose choose, without splitting again
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

from fer_keras.errors import FERError
from fer_keras.files import atomic_write
from fer_keras.runs.config import CONFIG, DAMAGED, RunConfig

BEST = "best.keras"
HISTORY = "history.csv"
BUDGET = "budget.json"
TEST_SPLIT = "test_split.npz"
VAL_SPLIT = "val_split.npz"
LOGS = "logs"
BACKUP = "backup"
SNAPSHOTS = "snapshots"
METRICS = "metrics.json"
TRAINED = "trained.json"
"""The metrics file of a run's results folder (``results/<run>/``)."""


@dataclass(frozen=True)
class CommittedState:
    """What ``backup/state.json`` records: ``epochs`` done, and the ``weights`` file saved after the last."""

    epochs: int
    weights: Path


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
    def val_split(self):
        return self.path / VAL_SPLIT

    @property
    def logs(self):
        return self.path / LOGS

    @property
    def backup(self):
        return self.path / BACKUP

    @property
    def snapshots(self):
        return self.path / SNAPSHOTS

    @property
    def trained(self):
        """Written when training ends, before evaluation: a run with it and without metrics is evaluated,
        not trained again."""
        return self.path / TRAINED

    def committed_state(self):
        """The last commit of ``backup/state.json`` (``callbacks.committed_backup``): the epochs done and the
        weights file saved with them, or None for a run without one. The one reader of that file."""
        state = self.backup / "state.json"
        if not state.is_file():
            return None
        try:
            found = json.loads(state.read_bytes().decode("utf-8"))
            epochs, weights = found["epochs_done"], found["weights"]
            if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0 or not isinstance(weights, str):
                raise ValueError
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError, RecursionError):
            raise FERError(f"{state} is damaged: start afresh with --fresh") from None
        path = self.backup / weights
        if Path(weights).name != weights or not path.is_file():
            raise FERError(f"{state} names {weights}, which is missing: start afresh with --fresh")
        return CommittedState(epochs, path)

    def committed_epochs(self):
        """The epochs the last commit says are done (see :meth:`committed_state`), or None."""
        state = self.committed_state()
        return None if state is None else state.epochs

    def read_trained(self):
        """``trained.json`` (training's summary, written when training ended) as a dict with its ``seconds``;
        one FERError line naming the file when it is damaged."""
        try:
            trained = json.loads(self.trained.read_bytes().decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError):
            trained = None
        seconds = trained.get("seconds") if isinstance(trained, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise FERError(f"{self.trained} is damaged: delete it to check and evaluate the trained run again, or "
                           "start afresh with --fresh")
        return trained

    def read_budget(self):
        """``budget.json`` (the time budget's bookkeeping) as a dict whose ``epoch_seconds`` is a list of numbers
        and ``spent_seconds`` a number; one FERError line naming the file when it is damaged."""
        try:
            budget = json.loads(self.budget.read_bytes().decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, OSError):
            budget = None
        numbers = budget.get("epoch_seconds") if isinstance(budget, dict) else None
        if not (isinstance(numbers, list) and all(_is_number(v) for v in numbers)
                and _is_number(budget.get("spent_seconds")) and _is_number(budget.get("planned_epochs"))):
            raise FERError(f"{self.budget} is damaged; delete it to restart the budget, or start afresh with --fresh")
        return budget

    def check_resumable(self):
        """Read every file an interrupted run resumes from — ``config.json`` (typed: its ``created`` and
        ``resumed`` entries too), the committed state, ``history.csv``, ``budget.json`` and ``trained.json`` when
        present — so that a damaged one is one FERError line before anything of the run is changed. Returns
        the :class:`~fer_keras.runs.config.RunConfig`."""
        config = self.read_config()
        self.committed_state()
        self.read_history()
        if self.budget.exists():
            self.read_budget()
        if self.trained.exists():
            self.read_trained()
        return config

    def remove_partial_files(self):
        """Delete the temporary files a killed writer left (``.<name>.*`` of ``atomic_write``, ``.partial-*``
        of the checkpoint): they are never part of a run."""
        for leftover in [*self.path.glob(".*"), *self.backup.glob(".*")]:
            if leftover.is_file():
                leftover.unlink()

    def finish(self):
        """The run is trained (and evaluated, unless its test split is held out): its backup is no longer needed to
        resume it."""
        import shutil

        shutil.rmtree(self.backup, ignore_errors=True)

    def teacher_probabilities(self, key):
        """This run's cached probabilities as a distillation teacher on the training faces hashed ``key``."""
        return self.path / f"teacher_probabilities-{key}.npy"

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
        """The run's ``config.json`` as a :class:`~fer_keras.runs.config.RunConfig` (an old, unversioned one
        upgraded); one FERError line naming the file when it is missing, unreadable or of an unknown shape."""
        if not self.config.is_file():
            raise FERError(f"{self.path} is not a training run: no {CONFIG} in it "
                           "(runs live in callbacks/<variant>-<time>/)")
        return RunConfig.read(self.config)

    def write_test_split(self, images, labels, emotions, ids, in_training):
        """Record the test split (uint8 N×48×48 images, model labels, seven-class emotions, source
        ids, copy-in-Training mask), so that evaluation reads it instead of re-preparing the data."""
        _save_split(self.test_split, images=images, labels=labels, emotions=emotions, ids=ids, in_training=in_training)

    def read_test_split(self):
        """The recorded test split as a dict of arrays (see :meth:`write_test_split`)."""
        if not self.test_split.is_file():
            raise FERError(f"{self.path} has no {TEST_SPLIT}: it was made before runs recorded their test split; "
                           "evaluate its model with --model FILE --data PATH --variant NAME instead")
        return _load_split(self.test_split, TEST_SPLIT_ARRAYS)

    def write_val_split(self, images, labels, emotions, ids):
        """Record the validation split (the arrays of :meth:`write_test_split` but the copy mask), so that
        choosing members, a vote or a diagnosis on it never cleans and splits the data again."""
        _save_split(self.val_split, images=images, labels=labels, emotions=emotions, ids=ids)

    def read_val_split(self):
        """The recorded validation split as a dict of arrays, or None for a run made before runs recorded
        it (its readers then make it again from the data)."""
        return _load_split(self.val_split, VAL_SPLIT_ARRAYS) if self.val_split.is_file() else None

    def read_history(self):
        """``history.csv`` as a DataFrame; empty for a new run (CSVLogger may have opened it
        without a row yet)."""
        return read_history_csv(self.history)

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


TEST_SPLIT_ARRAYS = {"images": "u", "labels": "iu", "emotions": "iu", "ids": "U", "in_training": "b"}
"""The arrays of ``test_split.npz`` and their NumPy dtype kinds."""
VAL_SPLIT_ARRAYS = {key: kinds for key, kinds in TEST_SPLIT_ARRAYS.items() if key != "in_training"}
"""The arrays of ``val_split.npz`` and their NumPy dtype kinds."""


def _save_split(path, ids, **arrays):
    import numpy as np

    atomic_write(path, lambda tmp: np.savez_compressed(tmp, ids=np.asarray(ids, dtype=str), **arrays))


def _load_split(path, kinds):
    """The arrays of a split file that ``kinds`` names (never unpickled; other arrays in the file are not
    read), checked by :func:`split_problem` to share one length; one FERError line naming the file otherwise."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as found:
            arrays = {key: found[key] for key in found.files if key in kinds}
    except Exception as err:  # noqa: BLE001 — a damaged .npz raises zip, zlib, pickle and format errors
        raise FERError(f"{path} cannot be read ({_one_line(err)}); {DAMAGED}") from None
    problem = split_problem(arrays, kinds)
    if problem:
        raise FERError(f"{path} {problem}; {DAMAGED}")
    return arrays


def split_problem(arrays, kinds=TEST_SPLIT_ARRAYS):
    """What makes the arrays of a split file unusable, or None: the arrays ``kinds`` names (default the
    five of :data:`TEST_SPLIT_ARRAYS`), one-dimensional but for the N×48×48 uint8 images, all N long."""
    missing = [key for key in kinds if key not in arrays]
    if missing:
        return f"lacks the array(s) {', '.join(missing)}"
    images = arrays["images"]
    if images.dtype != "uint8" or images.ndim != 3 or images.shape[1:] != (48, 48) or not len(images):
        return f"holds {images.dtype} images of shape {images.shape}, not N×48×48 uint8"
    for key, kind in kinds.items():
        value = arrays[key]
        if key != "images" and (value.dtype.kind not in kind or value.shape != (len(images),)):
            return f"holds {key} of {value.dtype} shape {value.shape}, not {len(images)} values"
        if kind == "iu" and (value < 0).any():
            return f"holds negative {key} ({value.min()})"
    return None


def labels_problem(arrays, n_labels, n_emotions):
    """What makes a test split's ``labels`` (the model's, ``n_labels`` classes) or ``emotions`` (the
    label set's ``n_emotions``) unusable, or None: a class number past the last class."""
    for key, n in (("labels", n_labels), ("emotions", n_emotions)):
        if arrays[key].max() >= n:
            return f"holds {key} up to {arrays[key].max()}, but the run's model has {n} classes"
    return None


def read_history_csv(path):
    """A ``history.csv`` as a DataFrame (empty when missing or without rows); one FERError line
    naming the file when it is not a readable CSV of numbers with an ``epoch`` column."""
    import pandas as pd

    try:
        history = pd.read_csv(path, encoding="utf-8")
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError, OSError) as err:
        raise FERError(f"{path} is not a readable training history ({_one_line(err)}); delete it to plot "
                       "no curves, or train the run again") from None
    numeric = history.apply(pd.to_numeric, errors="coerce")
    if "epoch" not in history or numeric.isna().to_numpy().sum() > history.isna().to_numpy().sum():
        raise FERError(f"{path} is not a training history (it needs an 'epoch' column and numbers only); "
                       "delete it to plot no curves, or train the run again")
    return numeric


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_line(err):
    """An exception's message as one short line."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:160] + "…"


def find_resumable(output_dir, resume_key):
    """The newest unfinished run (``backup/`` still present) made with the same settings, or None."""
    for path in sorted(Path(output_dir).glob("*/"), reverse=True):
        run = Run(path)
        if run.backup.is_dir() and run.config.exists():
            try:
                if RunConfig.read(run.config).resume_key == resume_key:
                    return run
            except FERError:
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


def check_output_file(path, option):
    """Refuse, before any work, an output file that is a folder or whose folder cannot be made or
    written (see :func:`check_output_dir`); creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise FERError(f"{option} {path} is a folder; give a file name (e.g. {path / 'out.json'})")
    existing = next(p for p in path.parents if p.exists())
    if not existing.is_dir():
        raise FERError(f"{option} {path} lies inside the file {existing}; give a file in a folder")
    check_output_dir(path.parent, option)
    return path


def write_text(path, text):
    """Write ``text`` atomically (see ``fer_keras.data.io.atomic_write``): a crash never leaves half
    a file."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path, value):
    """Write ``value`` as indented JSON, atomically."""
    write_text(path, json.dumps(value, indent=2))
