"""Białek's augmentation as Keras preprocessing layers, and offline balancing to N per class.

Rotation ±10°, horizontal mirror and zoom-in by 1.1–1.2× (Białek et al. 2023, §3.3). The same
layers serve on-the-fly augmentation during training (``augmentation_layers``) and the offline
balancing of the training split (``augment_to_n``).
"""

import keras
import numpy as np

ROTATION_DEGREES = 10
ZOOM_IN = (1.1, 1.2)


def augmentation_layers(seed=0, rotation_degrees=ROTATION_DEGREES, zoom_in=ZOOM_IN, name="augmentation"):
    """A ``keras.Sequential`` of RandomRotation, RandomFlip("horizontal") and RandomZoom.

    Keras' RandomZoom takes the fraction of the image removed: zooming in by ``z`` keeps
    ``1/z`` of each side, so a factor of ``1/z - 1`` (negative means zoom in).
    """
    zoom = (1 / zoom_in[1] - 1, 1 / zoom_in[0] - 1)
    return keras.Sequential(
        [
            keras.layers.RandomRotation(rotation_degrees / 360, fill_mode="reflect", seed=seed),
            keras.layers.RandomFlip("horizontal", seed=seed + 1),
            keras.layers.RandomZoom(height_factor=zoom, width_factor=zoom, fill_mode="reflect", seed=seed + 2),
        ],
        name=name,
    )


def augment_images(images, layers, batch_size=512):
    """Run uint8 images N×48×48 through ``layers`` in batches; returns uint8 N×48×48."""
    out = np.empty_like(images)
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size, ..., None].astype("float32")
        result = keras.ops.convert_to_numpy(layers(batch, training=True))[..., 0]
        out[start:start + batch_size] = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    return out


def augment_to_n(images, labels, n_per_class=8000, seed=0, layers=None):
    """Balance by augmentation: every class below ``n_per_class`` is topped up with augmented copies
    of its own images (drawn at random); classes already at or above it are kept as they are.

    Returns new (images, labels) arrays, originals first; the inputs are not modified.
    """
    rng = np.random.default_rng(seed)
    layers = layers or augmentation_layers(seed)
    sources = [rng.choice(np.flatnonzero(labels == k), n_per_class - count, replace=True)
               for k, count in enumerate(np.bincount(labels)) if 0 < count < n_per_class]
    if not sources:
        return images.copy(), labels.copy()
    chosen = np.concatenate(sources)
    new_images = augment_images(images[chosen], layers)
    return np.concatenate([images, new_images]), np.concatenate([labels, labels[chosen]])


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of (x, y[, sample_weight]) with the augmentation layers applied on the fly
    (Białek's "Keras augmentation during training"); reshuffled every epoch, any backend."""

    def __init__(self, x, y, batch_size=32, seed=0, sample_weight=None, layers=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sample_weight, self.batch_size = x, y, sample_weight, batch_size
        self.layers = layers or augmentation_layers(seed)
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        x = keras.ops.convert_to_numpy(self.layers(self.x[rows], training=True))
        if self.sample_weight is None:
            return x, self.y[rows]
        return x, self.y[rows], self.sample_weight[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))
