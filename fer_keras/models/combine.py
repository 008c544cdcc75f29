"""Ensembles of trained models (DESIGN §3): probability average, majority vote, one-vs-rest.

The combiners are pure numpy over the members' outputs, so they work with any backend and can be
tested on fixed arrays:

* :func:`average_probabilities` — (weighted) mean of softmax outputs, Białek et al. 2023 §4.5;
* :func:`majority_vote` — each member votes its arg-max (Bakiasi 2024);
* :func:`one_vs_rest` — seven binary sigmoid models, one per emotion: concatenate, arg-max
  (Białek §3.5, §4.4).

:func:`ensemble_model` joins Keras members into one multi-output model, so that one ``predict``
call runs every member (what the inference timing measures).
"""

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.errors import FERError

ENSEMBLE_METHODS = ("mean", "vote", "ovr")


def _stack(prob_list, what="prob_list"):
    """Members' outputs as one float64 array M×N×K, with a readable error for mismatched shapes."""
    arrays = [np.asarray(p, dtype=np.float64) for p in prob_list]
    if not arrays:
        raise FERError(f"{what} is empty: an ensemble needs at least one member")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 2:
        raise FERError(f"{what}: every member must give an N×K array of the same shape, got "
                       f"{', '.join(str(a.shape) for a in arrays)}")
    return np.stack(arrays)


def _weights(weights, n_members):
    if weights is None:
        return np.full(n_members, 1.0 / n_members)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) != n_members:
        raise FERError(f"got {len(w)} weights for {n_members} members; give one weight per member")
    if (w < 0).any() or w.sum() <= 0:
        raise FERError(f"weights must be non-negative and not all zero, got {w.tolist()}")
    return w / w.sum()


def average_probabilities(prob_list, weights=None):
    """Mean of the members' N×K probabilities; ``weights`` (one per member, normalised to sum 1)
    make it a weighted mean. Returns N×K; take ``.argmax(axis=1)`` for labels."""
    probs = _stack(prob_list)
    return np.tensordot(_weights(weights, len(probs)), probs, axes=1)


def majority_vote(prob_list, weights=None):
    """Labels N: the class most members predict (each member votes its arg-max, with its weight).

    Ties are broken deterministically: among the tied classes, the one with the highest (weighted)
    summed probability wins; if that ties too, the lowest class index wins.
    """
    probs = _stack(prob_list)
    w = _weights(weights, len(probs))
    rows = np.arange(probs.shape[1])
    votes = np.zeros(probs.shape[1:])
    for member, weight in zip(probs, w):
        votes[rows, member.argmax(axis=1)] += weight
    tied = np.isclose(votes, votes.max(axis=1, keepdims=True), rtol=0, atol=1e-12)
    support = np.where(tied, np.tensordot(w, probs, axes=1), -np.inf)
    return support.argmax(axis=1)  # argmax returns the first (lowest) index among equal maxima


def one_vs_rest(scores_list):
    """Labels N from K binary models: member k's sigmoid score (N or N×1) is the score of class k;
    the scores are concatenated to N×K and the arg-max wins (ties: lowest class index)."""
    columns = [np.asarray(s, dtype=np.float64).reshape(len(s), -1) for s in scores_list]
    if any(c.shape[1] != 1 for c in columns):
        raise FERError("one_vs_rest: every member must give one sigmoid score per image (N or N×1), got "
                       f"{', '.join(str(np.shape(s)) for s in scores_list)}")
    if len(columns) != len(EMOTIONS):
        raise FERError(f"one_vs_rest needs one binary model per emotion ({len(EMOTIONS)}), got {len(columns)}")
    return _stack(columns, "scores_list")[..., 0].T.argmax(axis=1)


def check_ensemble_method(method):
    """``method`` if it is one of ``ENSEMBLE_METHODS``; a one-line error otherwise."""
    if method not in ENSEMBLE_METHODS:
        raise FERError(f"unknown ensemble method {method!r}; expected one of {', '.join(ENSEMBLE_METHODS)}")
    return method


def combine(method, outputs, weights=None):
    """Labels N from the members' ``outputs`` by ``method`` ("mean", "vote" or "ovr")."""
    if check_ensemble_method(method) == "mean":
        return average_probabilities(outputs, weights).argmax(axis=1)
    if method == "vote":
        return majority_vote(outputs, weights)
    if method == "ovr":
        if weights is not None:
            raise FERError("--weights apply to 'mean' and 'vote'; one-vs-rest takes the arg-max of the scores")
        return one_vs_rest(outputs)


def ensemble_model(members, name="ensemble"):
    """One Keras model running every member on the same 48×48×1 input; its outputs are the members'
    outputs, in order (combine them with the functions above). Members keep their weights; each is
    wrapped under the name ``member{i}`` so that members sharing a name can be joined."""
    import keras

    inputs = keras.Input(shape=members[0].inputs[0].shape[1:], name="image")
    outputs = []
    for i, member in enumerate(members):
        wrapped = keras.Model(member.input, member.output, name=f"member{i}")
        outputs.append(wrapped(inputs))
    return keras.Model(inputs, outputs, name=name)
