"""Data-centric cleaning of FER2013 (Ismail 2022, thesis §5; Białek et al. 2023 "filtered" data).

The thesis' functions, under the thesis' names. Each takes a :class:`FERData` and returns data; none
mutates its input. The ``find_*`` functions return pandas tables; the ``remove_*`` / ``drop_*``
functions return a new FERData whose ``notes`` gain one line saying what was dropped and why.

On FER2013 (``shared/data/fer2013.csv.gz``) they find 1,853 extra copies of 1,516 images (3,369
rows), 57 groups whose copies disagree on the emotion (160 rows), 557 groups whose copies straddle
the Usage splits, 28 images with mean pixel > 230 and 12 all-black images.

Images are compared exactly (one BLAKE2b digest per image, O(N)); near-duplicates are not sought.
"""

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from fer_keras.cli import lazy_import
from fer_keras.data.container import SPLITS
from fer_keras.data.hashing import group_ids
from fer_keras.errors import FERDataError

pd = lazy_import("pandas")

OUTLIER_THRESHOLD = 230
"""The thesis' rule, read off its box plot: an image whose mean pixel exceeds 230 is an outlier."""

OUTLIER_METHODS = ("threshold", "iqr")

_GROUP_COLUMNS = ["rows", "labels", "emotions", "splits", "size", "conflicting", "straddling"]
_ROW_COLUMNS = ["mean_pixel", "label", "emotion", "usage"]


# --------------------------------------------------------------------------- duplicates


def find_duplicates(data):
    """Groups of identical images: one table row per group of two or more copies.

    Index ``group`` (0, 1, … in order of each group's first row). Columns: ``rows`` (row indices,
    ascending), ``labels``, ``emotions`` and ``splits`` of those rows, ``size``, ``conflicting``
    (copies disagree on the label) and ``straddling`` (copies lie in more than one Usage split).
    """
    ids = group_ids(data.content_hashes()) if len(data) else np.zeros(0, int)
    rows = np.flatnonzero(np.bincount(ids, minlength=1)[ids] > 1)
    table = pd.DataFrame({"id": ids[rows], "row": rows, "label": data.labels[rows], "usage": data.usage[rows]})
    groups = table.groupby("id", sort=True).agg(
        rows=("row", lambda s: tuple(s.tolist())),
        labels=("label", lambda s: tuple(s.tolist())),
        splits=("usage", lambda s: tuple(s.tolist())),
    ).reset_index(drop=True)
    classes = data.label_set.classes
    groups.insert(2, "emotions", [tuple(classes[k] for k in labels) for labels in groups["labels"]])
    groups["size"] = groups["rows"].map(len).astype(int)
    groups["conflicting"] = groups["labels"].map(lambda labels: len(set(labels)) > 1).astype(bool)
    groups["straddling"] = groups["splits"].map(lambda splits: len(set(splits)) > 1).astype(bool)
    groups.index.name = "group"
    return groups.reindex(columns=_GROUP_COLUMNS)


def duplicates_non_match_emotion(data):
    """The groups of :func:`find_duplicates` whose copies disagree on the emotion label."""
    groups = find_duplicates(data)
    return groups[groups["conflicting"]]


def remove_duplicates(data):
    """Keep the first copy (lowest row) of every group of identical images, drop the others.

    Conflicting groups keep one copy too, with the first copy's label; to drop every copy of an
    image whose labels disagree, call :func:`remove_duplicates_with_diff_emotion` first. The copy
    kept is the first in row order, so in Kaggle's file order (Training first) a group straddling
    splits stays in Training: pair this with the leakage-safe split in ``fer_keras.data.splits``.
    """
    groups = find_duplicates(data)
    drop = _rows(groups["rows"].map(lambda rows: rows[1:]))
    conflicting = int(groups["conflicting"].sum())
    note = (f"remove_duplicates: dropped {len(drop):,} extra copies of {len(groups):,} images "
            f"(first copy kept; {conflicting:,} of those images had conflicting labels)")
    return data.subset(_keep_mask(data, drop), note=note)


def remove_duplicates_with_diff_emotion(data):
    """Drop every row of every group of identical images whose copies disagree on the emotion."""
    conflicts = duplicates_non_match_emotion(data)
    drop = _rows(conflicts["rows"])
    note = (f"remove_duplicates_with_diff_emotion: dropped all {len(drop):,} rows of {len(conflicts):,} "
            "images whose copies disagree on the emotion")
    return data.subset(_keep_mask(data, drop), note=note)


# --------------------------------------------------------------------------- outliers


def mean_pixels(data):
    """Each image's mean pixel value (float array N), the quantity the thesis' box plot shows."""
    return data.pixel_means()


def iqr_fences(values, k=1.5):
    """The box plot's whisker limits ``(Q1 − k·IQR, Q3 + k·IQR)`` of ``values``."""
    q1, q3 = np.percentile(values, [25, 75]) if len(values) else (np.nan, np.nan)
    return float(q1 - k * (q3 - q1)), float(q3 + k * (q3 - q1))


def find_outliers(data, threshold=OUTLIER_THRESHOLD, method="threshold", k=1.5):
    """Images whose mean pixel is an outlier; one table row per image, index ``row``.

    method="threshold": mean pixel > ``threshold`` (the thesis: 230, i.e. near-white pictures,
                        mostly text or blank placeholders);
    method="iqr":       mean pixel outside the box plot's fences ``Q1 − k·IQR`` / ``Q3 + k·IQR``
                        (both tails; FER2013's all-black images fall below).
    Columns: ``mean_pixel``, ``label``, ``emotion``, ``usage``.
    """
    means = mean_pixels(data)
    if method == "threshold":
        mask = means > threshold
    elif method == "iqr":
        low, high = iqr_fences(means, k)
        mask = (means < low) | (means > high)
    else:
        raise FERDataError(f"unknown outlier method {method!r}; expected one of {', '.join(OUTLIER_METHODS)}")
    return _row_table(data, np.flatnonzero(mask), means)


def find_constant_images(data):
    """Images whose pixels all hold one value (FER2013 has 12 all-black ones); index ``row``."""
    flat = data.images.reshape(len(data), -1)
    return _row_table(data, np.flatnonzero(flat.min(axis=1) == flat.max(axis=1)), mean_pixels(data))


def drop_outlier_images(data, threshold=OUTLIER_THRESHOLD, method="threshold", k=1.5, constant=False):
    """Drop the images :func:`find_outliers` finds; with ``constant=True`` also single-valued images.

    The defaults reproduce the thesis: 28 images with mean pixel > 230 dropped from FER2013.
    """
    outliers = find_outliers(data, threshold=threshold, method=method, k=k)
    rule = f"mean pixel > {threshold:g}" if method == "threshold" else f"mean pixel outside the {k:g}·IQR fences"
    drop = set(outliers.index)
    note = f"drop_outlier_images: dropped {len(outliers):,} images with {rule}"
    if constant:
        constants = find_constant_images(data)
        extra = len(set(constants.index) - drop)
        drop |= set(constants.index)
        note += f" and {extra:,} more constant (single-valued) images"
    return data.subset(_keep_mask(data, np.array(sorted(drop), dtype=int)), note=note)


# --------------------------------------------------------------------------- the cleaning steps of a variant


CLEANING_STEPS = {
    "remove_duplicates": remove_duplicates,
    "remove_duplicates_with_diff_emotion": remove_duplicates_with_diff_emotion,
    "drop_outlier_images": drop_outlier_images,
}
"""The steps a variant may name in its ``cleaning`` tuple, applied in the order given."""


def check_cleaning(steps):
    """``steps`` as a tuple, if every name is in ``CLEANING_STEPS``; a one-line error otherwise."""
    unknown = [step for step in steps if step not in CLEANING_STEPS]
    if unknown:
        raise FERDataError(f"unknown cleaning step {unknown[0]!r}; expected one of {', '.join(CLEANING_STEPS)}")
    return tuple(steps)


def clean(data, steps):
    """Apply the named cleaning ``steps`` (see ``CLEANING_STEPS``) to ``data`` in order."""
    for step in check_cleaning(steps):
        data = CLEANING_STEPS[step](data)
    return data


# --------------------------------------------------------------------------- leakage


@dataclass(frozen=True)
class LeakageReport:
    """Groups of identical images whose copies lie in more than one Usage split.

    groups:   the straddling groups (rows of :func:`find_duplicates`).
    n_groups: how many such groups; n_rows: how many rows they hold.
    pairs:    ``{"Training/PublicTest": {"groups": g, "rows": r}, …}``: groups with copies in both
              splits, and their rows in those two splits (a group in all three counts in each pair).
    """

    groups: "pd.DataFrame"
    n_groups: int
    n_rows: int
    pairs: dict

    def __str__(self):
        pairs = ", ".join(f"{name} {v['groups']:,}" for name, v in self.pairs.items() if v["groups"])
        return (f"{self.n_groups:,} duplicate groups ({self.n_rows:,} rows) straddle splits"
                + (f": {pairs}" if pairs else ""))


def leakage_report(data):
    """The duplicate groups that straddle splits: the train/test leakage inside the dataset itself."""
    groups = find_duplicates(data)
    straddling = groups[groups["straddling"]]
    present = [s for s in SPLITS if s in set(data.usage)] + sorted(set(data.usage) - set(SPLITS))
    pairs = {}
    for a, b in combinations(present, 2):
        # astype(bool): an empty object-dtype mask would select columns, not rows (no duplicates at all)
        both = straddling[straddling["splits"].map(lambda splits: a in splits and b in splits).astype(bool)]
        rows = sum(sum(s in (a, b) for s in splits) for splits in both["splits"])
        pairs[f"{a or 'none'}/{b or 'none'}"] = {"groups": len(both), "rows": int(rows)}
    return LeakageReport(groups=straddling, n_groups=len(straddling),
                         n_rows=int(straddling["size"].sum()), pairs=pairs)


# --------------------------------------------------------------------------- helpers


def _rows(row_tuples):
    """All row indices in a column of tuples, as a sorted int array."""
    return np.array(sorted(r for rows in row_tuples for r in rows), dtype=int)


def _keep_mask(data, drop):
    keep = np.ones(len(data), dtype=bool)
    keep[drop] = False
    return keep


def _row_table(data, rows, means):
    table = pd.DataFrame({
        "mean_pixel": means[rows],
        "label": data.labels[rows],
        "emotion": np.asarray(data.label_set.classes, dtype=object)[data.labels[rows]],
        "usage": data.usage[rows],
    }, index=pd.Index(rows, name="row"))
    return table.reindex(columns=_ROW_COLUMNS)
