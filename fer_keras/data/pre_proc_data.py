"""`pre_proc_data`: the thesis' preprocessing entry point, with an honest protocol by default.

normalise /255 → reshape N×48×48×1 → one-hot labels → balance the training split with
``sampling`` = "ros" | "smote" | "class_weight" | "augment" | "none".

``protocol="honest"`` (default): split first (cross-split duplicates removed), balance the
training split only; validation and test are never resampled.
``protocol="thesis"``: the thesis' order — over-sample the *whole* dataset, then split at random —
reproduced for comparison only: copies of test images are trained on, so every output made this
way carries ``leaky=True`` and a note with the measured train/test overlap.
"""

from dataclasses import dataclass, field

import numpy as np

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.data import load
from fer_keras.data.augment import augment_to_n
from fer_keras.data.container import FERData, to_model_input
from fer_keras.data.extra import add_extra_faces
from fer_keras.data.hashing import occurs_in
from fer_keras.data.labelsets import FER2013, LabelSet
from fer_keras.data.splits import Splits, split
from fer_keras.data.stream import STREAM_SAMPLINGS
from fer_keras.errors import FERError

SAMPLINGS = ("none", "ros", "smote", "class_weight", "augment")
PROTOCOLS = ("honest", "thesis")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Model-ready arrays. ``x_*`` float32 N×48×48×1 in [0, 1]; ``y_*`` float32 N×K: one-hot, or the
    label distributions of data that has them (FER+ probability labels) for training and validation."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sampling: str
    protocol: str
    leaky: bool
    class_weight: dict = None
    notes: tuple = field(default=())
    test_emotions: np.ndarray = None
    """The seven-class labels of the test images (for a one-vs-rest model, ``y_test`` is 0/1)."""
    test_ids: np.ndarray = None
    """Where each test image came from (``FERData.source_ids``), recorded in the run folder."""
    val_emotions: np.ndarray = None
    """The label set's labels of the validation images (recorded in the run folder with ``val_ids``)."""
    val_ids: np.ndarray = None
    label_set: LabelSet = FER2013
    """The classes the labels number (a binary model's test_emotions number them too)."""
    extra: dict = None
    """The counts of ``add_extra_faces`` when extra training faces were given."""

    @property
    def labels_train(self):
        return labels_of(self.y_train)

    @property
    def labels_test(self):
        return labels_of(self.y_test)

    def class_counts(self):
        """Training images per class after balancing."""
        classes = self.label_set.classes
        return dict(zip(classes, np.bincount(self.labels_train, minlength=len(classes)).tolist()))


def labels_of(y):
    """Integer labels from one-hot N×K targets, or from N×1 binary targets."""
    return y[:, 0].astype(np.int64) if y.shape[1] == 1 else y.argmax(axis=1)


def one_hot(labels, num_classes=len(EMOTIONS)):
    return np.eye(num_classes, dtype=np.float32)[labels]


def balance(images, labels, sampling, seed=0, n_per_class=8000):
    """Resample uint8 images N×48×48 by ``sampling``; returns (images, labels, class_weight)."""
    if sampling not in SAMPLINGS:
        raise FERError(f"unknown sampling {sampling!r}; expected one of {', '.join(SAMPLINGS)}")
    if sampling == "ros":
        rows = oversampled_rows(labels, seed)
        return images[rows], labels[rows], None
    if sampling == "smote":
        from imblearn.over_sampling import SMOTE  # here, like every heavy import: --help stays fast

        # float pixels, rounded back: on uint8 input imbalanced-learn casts its interpolations down,
        # which truncates every synthetic pixel (half a grey level darker on average)
        smote = SMOTE(random_state=seed, k_neighbors=min(5, np.bincount(labels).min() - 1))
        flat, labels = smote.fit_resample(images.reshape(len(images), -1).astype(np.float32), labels)
        return np.rint(flat).astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE), labels, None
    if sampling == "augment":
        images, labels = augment_to_n(images, labels, n_per_class=n_per_class, seed=seed)
        return images, labels, None
    if sampling == "class_weight":
        return images, labels, class_weights(labels)
    return images, labels, None


def oversampled_rows(labels, seed=0):
    """Random over-sampling as row indices (``RandomOverSampler`` on the row numbers): every class
    repeated up to the largest one's size. The rows, not the pixels, so image files can be too."""
    from imblearn.over_sampling import RandomOverSampler

    rows, _ = RandomOverSampler(random_state=seed).fit_resample(np.arange(len(labels))[:, None], labels)
    return rows[:, 0]


def class_weights(labels):
    """Keras' ``class_weight``: inverse class frequency ("balanced"), for the classes present."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    return {int(k): float(w) for k, w in zip(present, weights)}


def pre_proc_data(data="synthetic", sampling="none", protocol="honest", split_method="usage",
                  test_fraction=0.1, val_fraction=0.1, n_per_class=8000, seed=0, extra_train=None,
                  extra_per_class=None):
    """Split, balance the training split and return model-ready arrays (see module docstring).

    data:          a FERData (already cleaned) or a source for ``fer_keras.data.load``.
    sampling:      "none", "ros", "smote" (imbalanced-learn, on flattened pixels), "class_weight"
                   (inverse-frequency Keras ``class_weight`` dict, no resampling) or "augment"
                   (rotate ±10°, mirror, zoom 1.1–1.2 up to ``n_per_class`` per class).
    protocol:      "honest" (default) or "thesis" (leaky, for comparison only).
    split_method:  "usage" (FER2013's own), "stratified" (``val_fraction``/``test_fraction``) or
                   "training_holdout" (20 % of Training validates, PrivateTest tests; Trinh et al. 2023).
    extra_train:   ``ExtraFaces`` (``fer_keras.data.extra``) added to the training split only, before
                   balancing: exact copies of validation / test images refused, at most
                   ``extra_per_class`` of each emotion (honest protocol only).
    """
    if protocol not in PROTOCOLS:
        raise FERError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if not isinstance(data, FERData):
        data = load(data)
    if data.probabilities is not None and (protocol == "thesis" or sampling not in ("none", "class_weight")):
        raise FERError(f"{data.source}: label distributions train without resampling; use sampling 'none' or "
                       f"'class_weight' and the honest protocol, or hard labels (--ferplus-mode majority)")
    if protocol == "thesis":
        if extra_train is not None:
            raise FERError("extra training faces need the honest protocol: the thesis protocol resamples before "
                           "splitting, so they could land in the test split")
        return _thesis_protocol(data, sampling, test_fraction, val_fraction, n_per_class, seed)
    parts = split(data, split_method, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    extra = None
    if extra_train is not None:
        train, extra = add_extra_faces(parts.train, extra_train, np.concatenate([parts.val.images, parts.test.images]),
                                       extra_per_class, seed)
        parts = Splits(train, parts.val, parts.test)
    images, labels, weights = balance(parts.train.images, parts.train.labels, sampling, seed, n_per_class)
    notes = _honest_notes(parts, split_method, sampling)
    k = data.label_set.num_classes
    y_train, y_val = ((one_hot(labels, k), one_hot(parts.val.labels, k)) if data.probabilities is None
                      else (parts.train.probabilities, parts.val.probabilities))
    return Prepared(to_model_input(images), y_train, to_model_input(parts.val.images), y_val,
                    to_model_input(parts.test.images), one_hot(parts.test.labels, k),
                    sampling, protocol, leaky=False, class_weight=weights, notes=notes,
                    test_emotions=parts.test.labels, test_ids=parts.test.source_ids,
                    val_emotions=parts.val.labels, val_ids=parts.val.source_ids, label_set=data.label_set,
                    extra=extra)


def pre_proc_stream(index, sampling="none", split_method="usage", test_fraction=0.1, val_fraction=0.1, seed=0):
    """:func:`pre_proc_data` for an image folder read from disk (a ``FolderIndex``, see
    ``fer_keras.data.stream``), honest protocol: the same split and cross-split dedupe, balancing
    by rows (``STREAM_SAMPLINGS``). ``x_train`` and ``x_val`` are lazy ``FolderImages``; the test
    split is decoded (the run folder records its pixels), so it must fit in memory. The labels are
    one-hot over ``index.label_set``'s classes (folders hold hard labels only)."""
    if getattr(index, "probabilities", None) is not None:
        raise FERError("label distributions (FER+'s --ferplus-mode probability) are not streamed; drop --stream")
    if sampling not in STREAM_SAMPLINGS:
        raise FERError(f"sampling {sampling!r} makes new images, which needs every image in memory; a streamed "
                       f"folder balances with {', '.join(STREAM_SAMPLINGS)}")
    parts = split(index, split_method, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    labels = parts.train.labels
    rows = oversampled_rows(labels, seed) if sampling == "ros" else np.arange(len(labels))
    k = index.label_set.num_classes
    return Prepared(parts.train.lazy_images()[rows], one_hot(labels[rows], k), parts.val.lazy_images(),
                    one_hot(parts.val.labels, k), to_model_input(parts.test.lazy_images().decode()),
                    one_hot(parts.test.labels, k), sampling, "honest", leaky=False,
                    class_weight=class_weights(labels) if sampling == "class_weight" else None,
                    notes=_honest_notes(parts, split_method, sampling) + ("streamed from disk",),
                    test_emotions=parts.test.labels, test_ids=parts.test.source_ids,
                    val_emotions=parts.val.labels, val_ids=parts.val.source_ids, label_set=index.label_set)


def _honest_notes(parts, split_method, sampling):
    return tuple(dict.fromkeys(parts.train.notes + parts.val.notes)) + (  # each part carries the cleaning notes
        f"honest protocol: split ({split_method}) first, {sampling} on the training split only",)


def _thesis_protocol(data, sampling, test_fraction, val_fraction, n_per_class, seed):
    """Over-sample everything, then split at random: the thesis' (leaky) order."""
    images, labels, weights = balance(data.images, data.labels, sampling, seed, n_per_class)
    pooled = FERData(images, labels, np.full(len(labels), "", object),
                     np.array([f"resampled {i}" for i in range(len(labels))], dtype=object), data.source,
                     label_set=data.label_set)
    # a random split of resampled rows, as the thesis did: copies of one image land on both sides
    parts = split(pooled, "stratified", val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                  group_duplicates=False, dedupe=False)
    overlap = int(occurs_in(parts.test.images, parts.train.images).sum())
    note = (f"LEAKY thesis protocol: {sampling} over the whole dataset before a random split; "
            f"{overlap} of {len(parts.test)} test images also occur in training")
    k = data.label_set.num_classes
    return Prepared(to_model_input(parts.train.images), one_hot(parts.train.labels, k),
                    to_model_input(parts.val.images), one_hot(parts.val.labels, k),
                    to_model_input(parts.test.images), one_hot(parts.test.labels, k), sampling, "thesis",
                    leaky=True, class_weight=weights, notes=data.notes + (note,),
                    test_emotions=parts.test.labels, test_ids=parts.test.source_ids,
                    val_emotions=parts.val.labels, val_ids=parts.val.source_ids, label_set=data.label_set)


def pre_proc_binary(data, emotion, split_method="usage", n_positive=6000, n_per_negative=1000, seed=0):
    """One-vs-rest arrays for ``emotion`` (Białek §3.5): a balanced training set from the training
    split; validation and test are the multi-class ones relabelled 1/0. ``y_*`` are N×1 float32."""
    from fer_keras.data.binary import binary_labels, one_vs_rest

    parts = split(data, split_method, seed=seed)
    train = one_vs_rest(parts.train.images, parts.train.labels, emotion, n_positive, n_per_negative, seed)

    def column(labels):
        return labels.astype(np.float32)[:, None]

    return Prepared(to_model_input(train.images), column(train.labels), to_model_input(parts.val.images),
                    column(binary_labels(parts.val.labels, emotion)), to_model_input(parts.test.images),
                    column(binary_labels(parts.test.labels, emotion)), sampling="one_vs_rest",
                    protocol="honest", leaky=False,
                    notes=parts.train.notes + (f"one-vs-rest {train.emotion}: {n_positive}/{n_positive} training set",),
                    test_emotions=parts.test.labels, test_ids=parts.test.source_ids,
                    val_emotions=parts.val.labels, val_ids=parts.val.source_ids)
