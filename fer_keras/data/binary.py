"""One-vs-rest datasets (Białek et al. 2023, §3.5).

For each emotion: the chosen class augmented (or sampled) to ``n_positive`` images, and
``n_per_negative`` images drawn from each other class — all of a class that has fewer (disgust),
with the shortfall drawn from the larger classes — so that positives and negatives balance
(6000 / 6000 by default). Labels are 1 for the chosen emotion, 0 otherwise. The test set is the
multi-class one, relabelled with ``binary_labels``.
"""

from dataclasses import dataclass

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.data.augment import augment_to_n
from fer_keras.errors import FERError


@dataclass(frozen=True, eq=False)
class BinaryDataset:
    """uint8 images N×48×48 and 0/1 labels for ``emotion`` vs the rest."""

    emotion: str
    images: np.ndarray
    labels: np.ndarray


def binary_labels(labels, emotion):
    """1 where ``labels`` is ``emotion`` (name or index), else 0."""
    return (np.asarray(labels) == emotion_index(emotion)).astype(np.int64)


def emotion_index(emotion):
    if isinstance(emotion, (int, np.integer)) and 0 <= emotion < len(EMOTIONS):
        return int(emotion)
    if emotion in EMOTIONS:
        return EMOTIONS.index(emotion)
    raise FERError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")


def one_vs_rest(images, labels, emotion, n_positive=6000, n_per_negative=1000, seed=0):
    """Build Białek's balanced one-vs-rest training set for ``emotion`` from uint8 images/labels."""
    k = emotion_index(emotion)
    rng = np.random.default_rng(seed)
    positives = images[labels == k]
    if len(positives) >= n_positive:
        positives = positives[rng.choice(len(positives), n_positive, replace=False)]
    else:
        positives, _ = augment_to_n(positives, np.zeros(len(positives), np.int64), n_positive, seed=seed)
    negatives = _draw_negatives(labels, k, n_total=n_positive, n_per_class=n_per_negative, rng=rng)
    x = np.concatenate([positives, images[negatives]])
    y = np.concatenate([np.ones(len(positives), np.int64), np.zeros(len(negatives), np.int64)])
    order = rng.permutation(len(y))
    return BinaryDataset(EMOTIONS[k], x[order], y[order])


def _draw_negatives(labels, k, n_total, n_per_class, rng):
    """Indices: up to ``n_per_class`` from each other class, topped up to (or cut to) ``n_total``."""
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in range(len(EMOTIONS)) if c != k}
    take = {c: min(n_per_class, len(pool)) for c, pool in pools.items()}
    while sum(take.values()) < n_total:
        room = [c for c in pools if take[c] < len(pools[c])]
        if not room:
            break
        for c in room[: n_total - sum(take.values())]:
            take[c] += 1
    chosen = np.concatenate([pools[c][: take[c]] for c in pools])
    return chosen if len(chosen) <= n_total else rng.choice(chosen, n_total, replace=False)
