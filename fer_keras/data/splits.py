"""Train / validation / test splits that never let one image sit on both sides.

Cleaning happens before splitting. Three ways to split:
  * ``"usage"``: FER2013's own ``Usage`` column (Training / PublicTest / PrivateTest);
  * ``"stratified"``: a stratified random split (Białek's 80/10/10; the thesis' test 0.1 or 0.2),
    group-aware by default, so every copy of a duplicated image lands in the same split;
  * ``"training_holdout"``: Trinh et al.'s (2023) protocol: a stratified, duplicate-aware 20 % of
    Training is the validation split, PrivateTest the test split (PublicTest is not used).
With ``dedupe=True`` (the default) copies of an image that still straddle splits are removed from
the earlier split (train loses copies of validation/test images, validation of test images), so
the test set stays the benchmark's own while training never sees a test image.
Images are compared by ``content_hashes()``, so an index of files on disk splits the same way.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from fer_keras.data.container import SPLITS, FERData
from fer_keras.data.hashing import group_ids, hashes_in
from fer_keras.errors import FERDataError

SPLIT_METHODS = ("usage", "stratified", "training_holdout")
TRAINING_HOLDOUT_FRACTION = 0.2
"""The share of Training that ``"training_holdout"`` validates on (Trinh et al. 2023)."""


@dataclass(frozen=True)
class Splits:
    """The three parts of a dataset, each of its kind (a ``FERData``, or a ``FolderIndex`` on disk)."""

    train: FERData
    val: FERData
    test: FERData

    def sizes(self):
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def usage_split(data, val_fraction=0.1, test_fraction=0.1, seed=0):
    """Split on FER2013's ``Usage`` column: Training → train, PublicTest → val, PrivateTest → test.

    The documented layouts without all three are split honestly too, and say so in the notes:
    without PublicTest (Kaggle's image folders ``train/`` + ``test/``) a stratified, duplicate-aware
    ``val_fraction`` of Training becomes the validation split; without any ``Usage`` (a CSV of
    ``emotion,pixels``, a folder of emotion folders) the whole set is split stratified and
    duplicate-aware, ``val_fraction`` / ``test_fraction``.
    """
    present = set(data.usage)
    if set(SPLITS) <= present:
        return Splits(*(data.split(name) for name in SPLITS))
    if {"Training", "PrivateTest"} <= present and "PublicTest" not in present:
        held = stratified_split(data.split("Training"), val_fraction=0, test_fraction=val_fraction, seed=seed)
        note = (f"no PublicTest rows: a stratified, duplicate-aware {val_fraction:.0%} of Training (seed {seed}) "
                "is the validation split")
        return Splits(_noted(held.train, note), _noted(held.test, note), data.split("PrivateTest"))
    if present == {""}:
        parts = stratified_split(data, val_fraction, test_fraction, seed)
        note = (f"no Usage column: a stratified, duplicate-aware split (seed {seed}), validation {val_fraction:.0%}, "
                f"test {test_fraction:.0%}")
        return Splits(*(_noted(part, note) for part in (parts.train, parts.val, parts.test)))
    missing = ", ".join(s for s in SPLITS if s not in present)
    raise FERDataError(f"{data.source or 'data'}: no rows with Usage {missing}; give Training and PrivateTest rows "
                       "(PublicTest is optional), or none at all for a stratified split")


def training_holdout_split(data, val_fraction=TRAINING_HOLDOUT_FRACTION, seed=0):
    """Trinh et al. (2023): a stratified, duplicate-aware ``val_fraction`` of Training → validation,
    the rest → train, PrivateTest → test (the benchmark every other variant here is tested on;
    Trinh's 7,178-image test set is PublicTest + PrivateTest). PublicTest is left out."""
    present = set(data.usage)
    if not {"Training", "PrivateTest"} <= present:
        raise FERDataError(f"{data.source or 'data'}: the training_holdout split needs Usage rows Training and "
                           f"PrivateTest, got {', '.join(sorted(present - {''})) or 'no Usage column'}; use "
                           "split 'usage' or 'stratified'")
    held = stratified_split(data.split("Training"), val_fraction=0, test_fraction=val_fraction, seed=seed)
    note = f"training_holdout: a stratified, duplicate-aware {val_fraction:.0%} of Training (seed {seed}) validates"
    return Splits(_noted(held.train, note), _noted(held.test, note), data.split("PrivateTest"))


def _noted(part, note):
    return dataclasses.replace(part, notes=part.notes + (note,))


def stratified_split(data, val_fraction=0.1, test_fraction=0.1, seed=0, group_duplicates=True):
    """A stratified random split; with ``group_duplicates`` every copy of an image stays together."""
    from sklearn.model_selection import train_test_split  # here: --help answers before scikit-learn loads

    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and val_fraction + test_fraction < 1):
        raise FERDataError(f"split fractions val={val_fraction}, test={test_fraction} "
                           "must lie in (0, 1) and sum below 1")
    groups = group_ids(data.content_hashes()) if group_duplicates else np.arange(len(data))
    _, first_row = np.unique(groups, return_index=True)  # one representative row per group
    group_labels = data.labels[first_row]
    stratify = group_labels if np.bincount(group_labels)[np.unique(group_labels)].min() >= 3 else None
    _check_splittable(data, group_labels, test_fraction, "test", stratify is not None)
    rest, test = train_test_split(np.arange(len(first_row)), test_size=test_fraction, random_state=seed,
                                  stratify=stratify)
    val = np.array([], dtype=int)
    if val_fraction:
        _check_splittable(data, group_labels[rest], val_fraction / (1 - test_fraction), "validation",
                          stratify is not None)
        rest, val = train_test_split(rest, test_size=val_fraction / (1 - test_fraction), random_state=seed,
                                     stratify=None if stratify is None else group_labels[rest])
    parts = []
    for chosen in (rest, val, test):
        mask = np.isin(groups, np.unique(groups[first_row[chosen]]))
        parts.append(data.subset(mask, note=f"stratified split (seed={seed})"))
    return Splits(*parts)


def _check_splittable(data, labels, fraction, part, stratified):
    """A FERDataError naming the class counts and the smallest viable data when ``fraction`` of the
    distinct images ``labels`` (one per duplicate group) cannot be drawn as a ``part`` split: each
    side needs an image per class when stratified (scikit-learn's rule), one image otherwise."""
    n, counts = len(labels), np.bincount(labels)
    classes = int((counts > 0).sum()) if stratified else 1
    held = math.ceil(fraction * n)
    if held >= classes and n - held >= classes:
        return
    names = getattr(getattr(data, "label_set", None), "classes", None)
    listed = ", ".join(f"{names[k] if names and k < len(names) else k} {c}" for k, c in enumerate(counts) if c)
    need = math.ceil(classes / min(fraction, 1 - fraction))
    raise FERDataError(
        f"{data.source or 'data'}: {n} distinct image(s) ({listed}) are too few for a "
        f"{'stratified ' if stratified else ''}{fraction:.0%} {part} split; it needs at least {need} distinct images"
        f"{f' with 3 or more of each of the {classes} classes' if stratified else ''} — add images, or give the "
        "CSV a Usage column (Training, PublicTest, PrivateTest) to choose the splits yourself")


def dedupe_across_splits(splits):
    """Remove from train (and val) every image that also occurs in a later split."""
    train, val, test = splits.train, splits.val, splits.test
    val_hashes, test_hashes = val.content_hashes(), test.content_hashes()
    val_keep = ~hashes_in(val_hashes, test_hashes)
    train_keep = ~hashes_in(train.content_hashes(), np.concatenate([val_hashes, test_hashes]))
    return Splits(
        train=train.subset(train_keep, note=_dropped_note("train", train_keep)),
        val=val.subset(val_keep, note=_dropped_note("val", val_keep)),
        test=test,
    )


def split(data, method="usage", val_fraction=0.1, test_fraction=0.1, seed=0, group_duplicates=True, dedupe=True):
    """Split ``data`` by ``method`` ("usage", "stratified" or "training_holdout"), then remove
    cross-split copies. ``val_fraction`` and ``test_fraction`` apply where the split is drawn at
    random ("stratified", "usage" without PublicTest); "training_holdout" always holds out
    ``TRAINING_HOLDOUT_FRACTION`` of Training, as the paper did."""
    if method == "usage":
        parts = usage_split(data, val_fraction, test_fraction, seed)
    elif method == "training_holdout":
        parts = training_holdout_split(data, TRAINING_HOLDOUT_FRACTION, seed)
    elif method == "stratified":
        parts = stratified_split(data, val_fraction, test_fraction, seed, group_duplicates)
    else:
        raise FERDataError(f"unknown split method {method!r}; expected one of {', '.join(SPLIT_METHODS)}")
    return dedupe_across_splits(parts) if dedupe else parts


def _dropped_note(name, keep):
    dropped = int((~keep).sum())
    if dropped:
        return f"dedupe_across_splits: dropped {dropped} {name} rows whose image occurs in a later split"
    return None
