"""Named label sets: which emotions a dataset labels, in its own order, and how they match across sets.

FER2013, FER+, AffectNet, RAF-DB and CK+ label overlapping emotions under different names and
numbers. A :class:`LabelSet` holds a dataset's class names in its own order, the number its files
give the first class, and each class's canonical emotion (FER2013's names plus "contempt"), so a
model trained on one set can be scored on the classes it shares with another.
"""

from dataclasses import dataclass

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.errors import FERError

CANONICAL = EMOTIONS + ("contempt",)
"""The canonical emotion names: FER2013's seven, plus contempt (FER+, AffectNet, CK+)."""
FERPLUS_MODES = ("majority", "probability")
"""How FER+'s ten votes per image become labels (``fer_keras.data.datasets.load_ferplus``)."""


@dataclass(frozen=True)
class LabelSet:
    """A dataset's classes: ``classes`` in its label order (label k is ``classes[k]``), the
    canonical emotion of each, and ``first_code``, the number its files give ``classes[0]``."""

    name: str
    classes: tuple
    canonical: tuple
    reference: str
    first_code: int = 0

    def __post_init__(self):
        unknown = set(self.canonical) - set(CANONICAL)
        if len(self.classes) != len(self.canonical) or unknown or len(set(self.canonical)) != len(self.canonical):
            raise ValueError(f"label set {self.name}: one distinct canonical name of {CANONICAL} per class")

    @property
    def num_classes(self):
        return len(self.classes)

    def label_of(self, name):
        """The label of a class given by its own name, its canonical name or its file code
        ("5" is RAF-DB's sadness); None if ``name`` is none of them."""
        name = str(name).strip().lower()
        for names in (self.classes, self.canonical):
            if name in names:
                return names.index(name)
        if name.isdigit() and 0 <= int(name) - self.first_code < self.num_classes:
            return int(name) - self.first_code
        return None

    def describe(self):
        """``"0 angry, 1 disgust, …"``: the classes with the codes the dataset's files use."""
        return ", ".join(f"{k + self.first_code} {c}" for k, c in enumerate(self.classes))


FER2013 = LabelSet("fer2013", EMOTIONS, EMOTIONS, "Goodfellow et al. 2013 (Kaggle FER2013)")
FERPLUS = LabelSet("ferplus", ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"),
                   ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"),
                   "Barsoum et al. 2016 (FER+ re-labelling of FER2013, fer2013new.csv)")
AFFECTNET = LabelSet("affectnet", ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt"),
                     ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt"),
                     "Mollahosseini et al. 2017 (AffectNet, expressions 0-7)")
RAFDB = LabelSet("rafdb", ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"),
                 ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"),
                 "Li et al. 2017 (RAF-DB basic, labels 1-7)", first_code=1)
CKPLUS = LabelSet("ckplus", ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
                  ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"),
                  "Lucey et al. 2010 (CK+, emotion codes 1-7; no neutral)", first_code=1)

LABEL_SETS = {s.name: s for s in (FER2013, FERPLUS, AFFECTNET, RAFDB, CKPLUS)}


def get_label_set(name):
    """The label set called ``name`` (a LabelSet passes through); FERError naming the known ones."""
    if isinstance(name, LabelSet):
        return name
    if name in LABEL_SETS:
        return LABEL_SETS[name]
    raise FERError(f"unknown label set {name!r}; use one of {', '.join(LABEL_SETS)}")


def shared_classes(model_set, data_set):
    """(data labels, model labels) of the canonical emotions both sets label, in the data's order."""
    pairs = [(k, model_set.canonical.index(c)) for k, c in enumerate(data_set.canonical) if c in model_set.canonical]
    if not pairs:
        raise FERError(f"label sets {model_set.name} and {data_set.name} share no class")
    data_labels, model_labels = map(np.array, zip(*pairs))
    return data_labels, model_labels


def score_shared(scores, truth, model_set, data_set):
    """Restrict an evaluation to the classes both sets label: keep the images whose true class has
    a counterpart in ``model_set``, keep the model's score columns of the shared classes (so the
    arg-max is over them), and renumber both 0..S-1 in the data's order.

    Returns (scores N'×S, truth N', kept mask over the input, shared class names in the data's words).
    """
    data_labels, model_labels = shared_classes(model_set, data_set)
    truth = np.asarray(truth)
    keep = np.isin(truth, data_labels)
    renumber = np.full(data_set.num_classes, -1)
    renumber[data_labels] = np.arange(len(data_labels))
    names = tuple(data_set.classes[k] for k in data_labels)
    return np.asarray(scores)[keep][:, model_labels], renumber[truth[keep]], keep, names


def add_label_options(parser):
    """The ``--labels`` and ``--ferplus-mode`` options of the CLIs that read a dataset."""
    parser.add_argument("--labels", metavar="NAME",
                        help=f"the data's label set: {', '.join(LABEL_SETS)} (default: detected — a fer2013new.csv "
                        "is FER+, a folder with RAF-DB's list_patition_label.txt is RAF-DB, anything else FER2013)")
    parser.add_argument("--ferplus-mode", default="majority", metavar="MODE",
                        help="FER+ labels: 'majority' (the emotion with more than half of the votes; other rows "
                        "dropped) or 'probability' (the vote distribution) (default: %(default)s)")


def label_options_of(args):
    """(label set name or None, FER+ mode) from the parsed options, checked before any slow work."""
    if args.labels is not None:
        get_label_set(args.labels)
    if args.ferplus_mode not in FERPLUS_MODES:
        raise FERError(f"unknown --ferplus-mode {args.ferplus_mode!r}; use one of {', '.join(FERPLUS_MODES)}")
    return args.labels, args.ferplus_mode
