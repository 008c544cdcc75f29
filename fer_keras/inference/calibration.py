"""Class-prior calibration for photos: a log-offset per class added to the model's log-probabilities.

FER2013's class frequencies are not a photo collection's (happy and neutral dominate press photos,
and crowd labellers call "neutral" faces FER2013 would call sad or angry), so a model trained on
FER2013 under-answers some classes on photos. A bias ``b`` (one number per class) moves its
decisions: ``p'_k ∝ p_k · exp(b_k)`` (Saerens et al. 2002's prior shift, with the shift chosen on
labelled photos rather than estimated). It is chosen on a development folder of photos
(``python -m fer_keras.evaluate --photos DIR --fit-class-bias FILE``), never on the photos reported
as a test; the shipped model's card carries the one chosen on ``realphoto_dev``
(``photo_class_bias``), and :class:`~fer_keras.inference.predict.EmotionRecognizer` applies it.
"""

import numpy as np

from fer_keras.errors import FERError

GRID = np.round(np.linspace(-3.0, 3.0, 25), 2)
"""The offsets tried per class (steps of 0.25)."""


def apply_class_bias(probabilities, bias):
    """``probabilities`` (N×K) reweighted by ``exp(bias)`` and renormalised; ``bias`` None leaves them."""
    if bias is None:
        return probabilities
    logits = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)) + np.asarray(bias)
    logits -= logits.max(axis=1, keepdims=True)
    weighted = np.exp(logits)
    return weighted / weighted.sum(axis=1, keepdims=True)


def check_class_bias(bias, num_classes, source):
    """``bias`` as a float array of ``num_classes`` finite numbers, or a FERError line naming ``source``."""
    try:
        values = np.asarray(bias, dtype=np.float64)
    except (TypeError, ValueError):
        raise FERError(f"{source}: a class bias is a list of {num_classes} numbers, got {bias!r}") from None
    if values.shape != (num_classes,) or not np.isfinite(values).all():
        raise FERError(f"{source}: a class bias is a list of {num_classes} finite numbers, got {bias!r}")
    return values


def _score(labels, predicted, num_classes):
    """Accuracy + macro-F1 (scikit-learn's, zero_division=0), from one bincount: the search below scores
    hundreds of candidate biases, where ``sklearn.metrics`` costs a millisecond a call."""
    counts = np.bincount(labels * num_classes + predicted, minlength=num_classes ** 2).reshape(num_classes, -1)
    hits = np.diag(counts).astype(np.float64)
    support, answered = counts.sum(1), counts.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(support + answered > 0, 2 * hits / (support + answered), 0.0)
    return hits.sum() / len(labels) + f1.mean()


def fit_class_bias(probabilities, labels, rounds=3):
    """The bias (one offset per class, from ``GRID``) that maximises accuracy + macro-F1 of
    ``argmax(log p + b)`` on these labelled faces: coordinate ascent from 0, ``rounds`` sweeps over the
    classes, keeping a change only when it raises the score (ties keep the smaller offsets)."""
    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0))
    labels = np.asarray(labels)
    num_classes = log_p.shape[1]
    bias = np.zeros(num_classes)
    best = _score(labels, log_p.argmax(1), num_classes)
    for _ in range(rounds):
        changed = False
        for k in range(num_classes):
            for value in GRID:
                trial = bias.copy()
                trial[k] = value
                score = _score(labels, (log_p + trial).argmax(1), num_classes)
                if score > best + 1e-9:
                    best, bias, changed = score, trial, True
        if not changed:
            break
    return bias


def cross_validated_predictions(probabilities, labels, folds=5, seed=0):
    """Each face's prediction under a bias fitted on the other folds (stratified ``folds``-fold): an
    honest estimate of what a bias chosen on photos like these does on photos it was not chosen on."""
    from sklearn.model_selection import StratifiedKFold

    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    folds = min(folds, int(np.bincount(labels).max()) if len(labels) else 0)
    if folds < 2:
        raise FERError(f"too few labelled faces ({len(labels)}) to score a class bias on folds: every fold needs "
                       "faces of the class that has the most")
    predicted = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(probabilities, labels):
        bias = fit_class_bias(probabilities[train], labels[train])
        predicted[test] = apply_class_bias(probabilities[test], bias).argmax(1)
    return predicted
