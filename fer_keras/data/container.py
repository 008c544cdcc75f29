"""`FERData`: the one typed container every loader returns and every cleaning step takes."""

from dataclasses import dataclass, field, fields, replace

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import lazy_import
from fer_keras.data.hashing import data_fingerprint, image_hashes
from fer_keras.data.labelsets import FER2013, LabelSet
from fer_keras.errors import FERDataError

pd = lazy_import("pandas")

SPLITS = ("Training", "PublicTest", "PrivateTest")
"""FER2013's ``Usage`` values: train, validation (public test) and test (private test)."""


def to_model_input(images):
    """uint8 N×48×48 → float32 N×48×48×1 in [0, 1] (one float32 copy, no float64): every model's
    input convention, shared by training, evaluation and inference."""
    out = np.empty((len(images), IMAGE_SIZE, IMAGE_SIZE, 1), dtype=np.float32)
    np.multiply(images[..., None], np.float32(1 / 255), out=out, dtype=np.float32)
    return out


class RowTable:
    """What every table of labelled images shares, held in memory (:class:`FERData`) or on disk
    (``fer_keras.data.stream.FolderIndex``): per-row ``labels``, ``usage``, ``source_ids``, the
    ``source``, its ``notes`` and ``label_set``; rows are selected with :meth:`subset`. Cleaning and splitting see
    an image only through :meth:`content_hashes` and :meth:`pixel_means`, so they work on both.
    Per-row arrays (``probabilities`` too, when present) are selected together."""

    def __len__(self):
        return len(self.labels)

    def subset(self, index, note=None):
        """A new table of the same kind with the rows selected by a boolean mask or an index array."""
        index = np.asarray(index)
        rows = {f.name: getattr(self, f.name)[index] for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}
        return replace(self, **rows, notes=self.notes + ((note,) if note else ()))

    def split(self, usage):
        """The rows whose ``usage`` equals one of ``SPLITS``."""
        if usage not in SPLITS:
            raise FERDataError(f"unknown split {usage!r}; expected one of {', '.join(SPLITS)}")
        return self.subset(self.usage == usage)

    def counts(self):
        """A table of image counts: one row per split present, one column per class, plus totals."""
        classes = self.label_set.classes
        frame = pd.crosstab(
            pd.Categorical(self.usage, categories=[s for s in SPLITS if s in set(self.usage)] or None),
            pd.Categorical(np.asarray(classes)[self.labels], categories=classes),
            dropna=False,
        )
        frame.index.name, frame.columns.name = "split", None
        frame["total"] = frame.sum(axis=1)
        frame.loc["total"] = frame.sum(axis=0)
        return frame


@dataclass(frozen=True, eq=False)
class FERData(RowTable):
    """A FER dataset held in memory.

    images:     uint8 array N×48×48 (grey).
    labels:     int64 array N, values in 0..K-1: ``label_set.classes`` (FER2013's 0 angry … 6 neutral by default).
    usage:      str array N, one of ``SPLITS`` (or "" where the source has no split).
    source_ids: str array N naming where each row came from ("row 17", "train/happy/im3.png").
    source:     a human-readable description of the whole source (path or "synthetic(seed=0)").
    label_set:  the :class:`~fer_keras.data.labelsets.LabelSet` the labels number.
    probabilities: float32 N×K label distributions (FER+'s votes), or None for hard labels only.
    """

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    source_ids: np.ndarray
    source: str = ""
    notes: tuple = field(default=())
    label_set: LabelSet = FER2013
    probabilities: np.ndarray = None

    def __post_init__(self):
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise FERDataError(
                f"{self.source or 'data'}: images must be uint8 N×48×48, "
                f"got {self.images.dtype} {self.images.shape}"
            )
        for name in ("labels", "usage", "source_ids"):
            if len(getattr(self, name)) != n:
                raise FERDataError(
                    f"{self.source or 'data'}: {name} has {len(getattr(self, name))} rows, images have {n}"
                )
        k = self.label_set.num_classes
        if n and (self.labels.min() < 0 or self.labels.max() >= k):
            raise FERDataError(f"{self.source or 'data'}: {self.label_set.name} labels must lie in 0..{k - 1}")
        if self.probabilities is not None and self.probabilities.shape != (n, k):
            raise FERDataError(f"{self.source or 'data'}: probabilities must be N×{k}, got {self.probabilities.shape}")

    def content_hashes(self):
        """One digest per image (see ``fer_keras.data.hashing.image_hashes``)."""
        return image_hashes(self.images)

    def pixel_means(self):
        """Each image's mean pixel value (float64 N)."""
        return self.images.mean(axis=(1, 2))

    @property
    def fingerprint(self):
        """A short content hash of the images and labels (``data_fingerprint``)."""
        return data_fingerprint(self)


def make_fer_data(images, labels, usage=None, source_ids=None, source="", label_set=FER2013):
    """Build a FERData from array-likes, filling defaults (no split, "row i" ids)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(images)
    usage = np.full(n, "", dtype=object) if usage is None else np.asarray(usage, dtype=object)
    if source_ids is None:
        source_ids = np.array([f"row {i}" for i in range(n)], dtype=object)
    return FERData(images, labels, usage, np.asarray(source_ids, dtype=object), source, label_set=label_set)
