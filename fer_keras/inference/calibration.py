"""Class-prior calibration for photos: a log-offset per class added to the model's log-probabilities.

FER2013's class frequencies are not a photo collection's (happy and neutral dominate press photos,
and crowd labellers call "neutral" faces FER2013 would call sad or angry), so a model trained on
FER2013 under-answers some classes on photos. A bias ``b`` (one number per class) moves its
decisions: ``p'_k ∝ p_k · exp(b_k)`` (Saerens et al. 2002's prior shift, fitted on labelled photos by
class-weighted maximum likelihood rather than estimated). It is chosen on a development folder of photos
(``python -m fer_keras.evaluate --photos DIR --fit-class-bias``), never on the photos reported
as a test; the shipped model's card carries the one chosen on ``realphoto_dev``
(``photo_class_bias``), and :class:`~fer_keras.inference.predict.EmotionRecognizer` applies it.
"""

import numpy as np

from fer_keras.errors import FERError

BALANCE = 0.4
"""How far the fit leans from accuracy toward macro-F1: each face weighs its class's count to the power
−``BALANCE`` (0: every face alike, plain maximum likelihood, which serves accuracy; 1: every class alike).
Chosen by 5-fold cross-validation on realphoto_dev against 0.25–0.75 and the earlier grid search
(``results/COMMANDS.md``, twelfth session)."""

LIMIT = 5.0
"""The largest offset either way (a factor of e^5 ≈ 150 on a class's probability)."""


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


def fit_class_bias(probabilities, labels, balance=BALANCE):
    """The bias that maximises the class-weighted log-likelihood of ``labels`` under ``softmax(log p + b)``
    (weights: class count^−``balance``). A convex, smooth problem (L-BFGS, exact gradient): unlike a search
    for the best argmax score, it cannot chase a handful of faces, so a bias fitted on some photos holds on
    others (5-fold on realphoto_dev: the fit's score on its own photos and on held-out ones agree within
    half a point). Offsets within ±``LIMIT``, returned centred (only differences between classes count)."""
    from scipy.optimize import minimize

    log_p = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0))
    labels = np.asarray(labels)
    num_classes = log_p.shape[1]
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.maximum(counts, 1.0) ** -balance
    weights = weights[labels] / weights[labels].sum()
    onehot = np.eye(num_classes)[labels]

    def loss_and_gradient(bias):
        z = log_p + bias
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        q = np.exp(z - log_norm[:, None])
        return weights @ (log_norm - (z * onehot).sum(axis=1)), weights @ (q - onehot)

    bounds = [(-LIMIT, LIMIT)] * num_classes  # a class with no faces here would run off to minus infinity
    bias = minimize(loss_and_gradient, np.zeros(num_classes), jac=True, method="L-BFGS-B", bounds=bounds).x
    return bias - bias.mean()


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
