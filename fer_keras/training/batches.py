"""The training input pipeline: batches in a per-epoch seeded order, augmented on the fly or not,
for ``model.fit``."""

import functools

import keras
import numpy as np


def per_output(y, outputs=None):
    """The targets of a model with the named ``outputs``: ``y`` itself for a one-output model
    (``outputs=None``), else ``{name: y}`` for each (a training model with auxiliary classifiers
    learns the same labels on every output)."""
    return y if outputs is None else {name: y for name in outputs}


class EpochBatches(keras.utils.PyDataset):
    """Batches of (x, y[, sample_weight]) reshuffled every epoch from the seed ``[seed, epoch]``, so
    a resumed run (:meth:`start_at`) sees the same order as an uninterrupted one; ``augment`` is a
    batch function ``(x, rng) → augmented x`` (see ``fer_keras.data.augment.augmenter``; ``rng`` is seeded
    from ``[seed, epoch, batch]``, so the augmentation repeats too) or ``None``; ``outputs``
    names the outputs of a multi-output model, each given ``y`` (see ``per_output``); ``teach`` is a
    function ``(augmented x, y) → targets`` (consistent distillation: ``training.distill.Teacher.mix``) or
    ``None``. Any backend.

    ``x`` is an array or a lazy one (``fer_keras.data.stream.FolderImages``: ``x[rows]`` selects,
    ``np.asarray`` decodes). ``shuffle=False`` keeps the row order (validation). ``cache_batches``
    bounds an LRU (``functools.lru_cache``) of decoded batches before augmentation, keyed by their
    rows: at most ``cache_batches × batch_size`` images of 48×48×4 bytes (float32) are kept; it
    pays where batches repeat, i.e. without shuffling; 0 (default) keeps none.
    """

    def __init__(self, x, y, batch_size=32, seed=0, sample_weight=None, augment=None, outputs=None,
                 shuffle=True, cache_batches=0, teach=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sample_weight, self.batch_size = x, y, sample_weight, batch_size
        self.augment, self.seed, self.epoch, self.outputs = augment, seed, 0, outputs
        self.shuffle, self.cache_batches, self.teach = shuffle, cache_batches, teach
        self.decoded = functools.lru_cache(maxsize=cache_batches)(self._decode)
        self.order = self._order()

    def start_at(self, epoch):
        """Continue a resumed run: the next epoch's order is the one an uninterrupted run had."""
        self.epoch = epoch
        self.order = self._order()

    def _order(self):
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

    def _decode(self, rows):
        return np.asarray(self.x[np.frombuffer(rows, dtype=np.int64)])

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size]).astype(np.int64)
        x = self.decoded(rows.tobytes())
        # each batch's augmentation draws from [seed, epoch, batch]: the same in a resumed run
        x = x if self.augment is None else self.augment(x, np.random.default_rng([self.seed, self.epoch, index]))
        y = self.y[rows] if self.teach is None else self.teach(x, self.y[rows])
        y = per_output(y, self.outputs)
        if self.sample_weight is None:
            return x, y
        return x, y, self.sample_weight[rows]

    def on_epoch_end(self):
        self.epoch += 1
        self.order = self._order()
