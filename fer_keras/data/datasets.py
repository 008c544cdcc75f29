"""Datasets other than FER2013's own labels, each read in its real layout into a `FERData` that
carries its label set (``fer_keras.data.labelsets``).

  * FER+ (Barsoum et al. 2016): ``fer2013new.csv`` (``Usage,Image name,neutral,…,contempt,unknown,NF``,
    ten votes per row) joined row by row to ``fer2013.csv``, as majority or probability labels;
  * RAF-DB (basic): ``list_patition_label.txt`` (``train_00001.jpg 5``, labels 1-7) and the aligned
    images ``aligned/`` or ``Image/aligned/`` (``train_00001_aligned.jpg``);
  * AffectNet, CK+: image folders ``<split>/<class>/*`` (``fer_keras.data.io.load_folder``).
"""

from dataclasses import replace
from pathlib import Path

import numpy as np

from fer_keras.cli import lazy_import
from fer_keras.data.io import DECOMPRESSION_ERRORS, cached, existing_path, load_csv, read_images
from fer_keras.data.labelsets import FERPLUS, FERPLUS_MODES, RAFDB
from fer_keras.errors import FERDataError

pd = lazy_import("pandas")

FERPLUS_FILE = "fer2013new.csv"
FERPLUS_NOT_EMOTIONS = ("unknown", "NF")
JOIN_MIN_LABEL_AGREEMENT = 0.40
"""A row-aligned label file must agree with its base file's labels (on the classes both label) on at
least this share of rows. FER+ re-labels some FER2013 faces, so a correct join agrees well below
100 % — FER2013's own labels are about 65 % right by human judgement (Goodfellow et al. 2013) — but
a join whose rows are in another order agrees at chance, Σ_c p_FER+(c)·p_FER2013(c) ≈ 18-20 % on
the real files (issue 25 measured 18 % on a re-ordered fer2013.csv)."""
JOIN_MIN_USAGE_AGREEMENT = 0.99
"""... and with its ``Usage`` column on at least this share: a correct FER+ join agrees on 100 %."""
JOIN_MIN_COMPARED = 50
"""Fewer rows with a label in both files than this: too few to judge the labels, only Usage is checked
(at 50 rows a correct join's ~65 % and chance's ~20 % are each over 3 standard deviations from 40 %)."""
FER2013_NAMES = ("fer2013.csv", "fer2013.csv.gz", "fer2013.csv.xz", "fer2013.csv.bz2", "fer2013.zip")
RAFDB_PARTITION = "list_patition_label.txt"
RAFDB_SPLITS = {"train": "Training", "test": "PrivateTest"}


# --------------------------------------------------------------------------- FER+


def load_ferplus(ferplus_csv, fer2013_csv=None, mode="majority", cache=True):
    """FER2013's images with FER+'s labels.

    ``ferplus_csv``: ``fer2013new.csv`` (or the folder holding it); ``fer2013_csv``: the Kaggle CSV it
    re-labels (default: ``fer2013.csv[.gz|.xz|…]`` beside it). Votes of one tagger are dropped as
    outliers, as in the FER+ paper's code; rows without a face (empty ``Image name``) are dropped.
    ``mode="majority"``: the emotion holding more than half of the remaining votes; rows where none
    does (ties included) or where unknown / NF has it are dropped. ``mode="probability"``: the vote
    distribution over the eight emotions (``FERData.probabilities``, arg-max as the label); rows with
    no emotion vote left, or where unknown / NF out-vote every emotion, are dropped.
    """
    if mode not in FERPLUS_MODES:
        raise FERDataError(f"unknown FER+ label mode {mode!r}; use one of {', '.join(FERPLUS_MODES)}")
    ferplus_csv = existing_path(ferplus_csv)
    if ferplus_csv.is_dir():
        ferplus_csv = existing_path(ferplus_csv / FERPLUS_FILE)
    fer2013 = load_csv(_beside(ferplus_csv) if fer2013_csv is None else fer2013_csv, cache=cache)
    votes, face, usage = _read_votes(ferplus_csv)
    if len(votes) != len(fer2013):
        raise FERDataError(f"{ferplus_csv}: {len(votes)} rows but {fer2013.source} has {len(fer2013)}; FER+ labels "
                           f"fer2013.csv row by row, so give the {FERPLUS_FILE} made for that very file")
    votes = np.where(votes > 1, votes, 0)  # one tagger's vote is an outlier (FER+ code, _process_data)
    emotion_votes, other_votes = votes[:, :FERPLUS.num_classes], votes[:, FERPLUS.num_classes:]
    winner = votes.argmax(axis=1)
    majority = face & (votes.max(axis=1) * 2 > votes.sum(axis=1)) & (winner < FERPLUS.num_classes)
    joined = verify_join(ferplus_csv, FERPLUS, np.where(majority, winner, -1), usage, fer2013)
    if mode == "majority":
        keep = majority
        probabilities, labels = None, winner[keep]
        rule = "a strict majority of the votes"
    else:
        keep = face & (emotion_votes.sum(axis=1) > 0) & (emotion_votes.max(axis=1) >= other_votes.max(axis=1))
        probabilities = (emotion_votes[keep] / emotion_votes[keep].sum(axis=1, keepdims=True)).astype(np.float32)
        labels = probabilities.argmax(axis=1)
        rule = "emotion votes that unknown / NF do not out-vote"
    note = (f"FER+ {mode} labels from {ferplus_csv.name} joined to {fer2013.source}: kept {int(keep.sum())} of "
            f"{len(keep)} rows ({int((~face).sum())} without a face; {int((face & ~keep).sum())} without {rule}); "
            f"{_agreement_note(joined)}")
    return replace(fer2013.subset(keep, note=note), labels=labels.astype(np.int64), label_set=FERPLUS,
                   probabilities=probabilities, source=str(ferplus_csv))


def join_agreement(label_set, labels, usage, base):
    """How well a row-aligned label file lines up with its ``base`` FERData, row by row.

    ``labels``: the file's label per row in ``label_set`` (-1: none, e.g. no majority); ``usage``: its
    Usage column ("" where absent). Returns a dict: ``labels`` (share of the rows labelled in both,
    on the classes both sets label, whose canonical emotions agree; None if no row compares),
    ``compared`` (that row count), ``chance`` (the agreement of the same two label distributions
    joined at random), ``usage`` (share of rows with a Usage in both that agree; None if none) and
    ``usage_compared``."""
    labels, usage = np.asarray(labels), np.asarray(usage, dtype=object)
    base_set = base.label_set
    shared = np.array([c in base_set.canonical for c in label_set.canonical] + [False])  # index -1: no label
    to_base = np.array([base_set.canonical.index(c) if c in base_set.canonical else -1
                        for c in label_set.canonical] + [-1])
    compared = shared[labels]
    mine, theirs = to_base[labels[compared]], np.asarray(base.labels)[compared]
    counts = len(mine)
    agreement = float(np.mean(mine == theirs)) if counts else None
    chance = None
    if counts:
        k = base_set.num_classes
        chance = float(np.bincount(mine, minlength=k) @ np.bincount(theirs, minlength=k)) / counts ** 2
    usage = np.array([str(u).strip() for u in usage], dtype=object)
    base_usage = np.array([str(u).strip() for u in base.usage], dtype=object)
    both = (usage != "") & (base_usage != "")
    usage_agreement = float(np.mean(usage[both] == base_usage[both])) if both.any() else None
    return {"labels": agreement, "compared": counts, "chance": chance, "usage": usage_agreement,
            "usage_compared": int(both.sum())}


def verify_join(label_file, label_set, labels, usage, base):
    """Refuse a row-aligned label file whose rows do not line up with ``base``'s: its labels must
    agree with the base's on at least ``JOIN_MIN_LABEL_AGREEMENT`` of the rows both label (checked
    from ``JOIN_MIN_COMPARED`` such rows) and its Usage on ``JOIN_MIN_USAGE_AGREEMENT``. One
    FERDataError line naming both files; the agreement dict of :func:`join_agreement` otherwise."""
    found = join_agreement(label_set, labels, usage, base)
    problems = []
    if found["labels"] is not None and found["compared"] >= JOIN_MIN_COMPARED \
            and found["labels"] < JOIN_MIN_LABEL_AGREEMENT:
        problems.append(f"its {label_set.name} labels agree with {base.label_set.name}'s on {found['labels']:.0%} "
                        f"of {found['compared']:,} rows (chance: {found['chance']:.0%}; a correct join agrees on "
                        f"at least {JOIN_MIN_LABEL_AGREEMENT:.0%})")
    if found["usage"] is not None and found["usage"] < JOIN_MIN_USAGE_AGREEMENT:
        problems.append(f"its Usage agrees on {found['usage']:.0%} of {found['usage_compared']:,} rows (a correct "
                        f"join agrees on {JOIN_MIN_USAGE_AGREEMENT:.0%} or more)")
    if problems:
        raise FERDataError(f"{label_file} and {base.source}: the rows do not line up — {' and '.join(problems)}; "
                           f"{Path(str(label_file)).name} labels {Path(str(base.source)).name} row by row, so give "
                           "the base file in its original row order (Kaggle's fer2013.csv as downloaded, not a "
                           "re-ordered or filtered copy)")
    return found


def _agreement_note(found):
    labels = (f"majority labels agree with FER2013's on {found['labels']:.0%} of {found['compared']:,} rows "
              f"(chance {found['chance']:.0%})" if found["compared"] >= JOIN_MIN_COMPARED else
              f"labels not checked ({found['compared']} rows to compare, fewer than {JOIN_MIN_COMPARED})")
    usage = "Usage not checked" if found["usage"] is None else f"Usage agrees on {found['usage']:.0%}"
    return f"rows line up: {labels}, {usage}"


def _beside(ferplus_csv):
    for name in FER2013_NAMES:
        if (ferplus_csv.parent / name).is_file():
            return ferplus_csv.parent / name
    raise FERDataError(f"{ferplus_csv}: no fer2013.csv beside it to join its labels to; put FER2013's CSV "
                       f"({', '.join(FER2013_NAMES)}) in {ferplus_csv.parent}")


def _read_votes(path):
    """(N×10 float vote counts in FER+'s column order, N-bool "has a face", N Usage strings — "" without
    the column) from ``fer2013new.csv``."""
    columns = list(FERPLUS.classes) + list(FERPLUS_NOT_EMOTIONS)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, *DECOMPRESSION_ERRORS) as err:
        raise FERDataError(f"{path}: cannot be read as a CSV ({err})") from None
    missing = [c for c in ["Image name", *columns] if c not in frame.columns]
    if missing:
        raise FERDataError(f"{path}: missing column(s) {', '.join(missing)}; expected FER+'s header "
                           f"'Usage,Image name,{','.join(columns)}'")
    votes = frame[columns].apply(lambda c: pd.to_numeric(c.replace("", "0"), errors="coerce"))
    if votes.isna().any().any():
        row = int(np.flatnonzero(votes.isna().any(axis=1).to_numpy())[0])
        raise FERDataError(f"{path}: line {row + 2}: vote counts must be numbers, got "
                           f"{','.join(frame.loc[row, columns])}")
    usage = frame["Usage"].to_numpy(dtype=object) if "Usage" in frame.columns else np.full(len(frame), "", object)
    return votes.to_numpy(dtype=np.float64), (frame["Image name"].str.strip() != "").to_numpy(), usage


# --------------------------------------------------------------------------- RAF-DB


def load_rafdb(root, cache=True):
    """RAF-DB (basic) from ``ROOT/[EmoLabel/]list_patition_label.txt`` and the aligned images in
    ``ROOT/aligned/`` or ``ROOT/Image/aligned/``: ``train_*`` → Training, ``test_*`` → PrivateTest
    (no PublicTest: the usage split validates on a stratified share of Training)."""
    return cached(existing_path(root), _read_rafdb, cache, RAFDB)


def rafdb_partition(root):
    """The partition file of a RAF-DB folder, or None if ``root`` holds none."""
    root = Path(root)
    return next((p for p in (root / RAFDB_PARTITION, root / "EmoLabel" / RAFDB_PARTITION) if p.is_file()), None)


def _read_rafdb(root):
    partition = rafdb_partition(root)
    if partition is None:
        raise FERDataError(f"{root}: no {RAFDB_PARTITION} (nor EmoLabel/{RAFDB_PARTITION}); RAF-DB's layout is "
                           f"{RAFDB_PARTITION} + aligned/ (or Image/aligned/)")
    images = next((p for p in (root / "aligned", root / "Image" / "aligned") if p.is_dir()), None)
    if images is None:
        raise FERDataError(f"{root}: no aligned/ or Image/aligned/ image folder beside {partition.name}")
    files = []
    for number, line in enumerate(partition.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        label = RAFDB.label_of(fields[1]) if len(fields) == 2 and fields[1].isdigit() else None
        split = RAFDB_SPLITS.get(fields[0].split("_")[0])
        if label is None or split is None:
            raise FERDataError(f"{partition}: line {number}: expected '<train|test>_NNNNN.jpg <label>' with a label "
                               f"{RAFDB.describe()}, got {line.strip()!r}")
        image = images / f"{Path(fields[0]).stem}_aligned{Path(fields[0]).suffix}"
        if not image.is_file():
            raise FERDataError(f"{partition}: line {number}: image {image} is missing")
        files.append((image, split, label))
    if not files:
        raise FERDataError(f"{partition}: no labelled images")
    return read_images(root, files, RAFDB)
