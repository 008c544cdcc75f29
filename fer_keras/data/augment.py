"""Augmentation: Białek's as Keras preprocessing layers, offline balancing to N per class, and the
modern recipe's crop + flip (+ erasing) in NumPy. Keras is imported where it is used, so the data
layer can balance with these functions without loading a backend.

Rotation ±10°, horizontal mirror and zoom-in by 1.1–1.2× (Białek et al. 2023, §3.3). The same
layers serve on-the-fly augmentation during training (``augmentation_layers``) and the offline
balancing of the training split (``augment_to_n``).
"""

import numpy as np

ROTATION_DEGREES = 10
ZOOM_IN = (1.1, 1.2)


def augmentation_layers(seed=0, rotation_degrees=ROTATION_DEGREES, zoom_in=ZOOM_IN, name="augmentation"):
    """A ``keras.Sequential`` of RandomRotation, RandomFlip("horizontal") and RandomZoom.

    Keras' RandomZoom takes the fraction of the image removed: zooming in by ``z`` keeps
    ``1/z`` of each side, so a factor of ``1/z - 1`` (negative means zoom in).
    """
    import keras

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
    import keras

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


def crop_flip(x, rng, padding=4, erase_probability=0.0):
    """Random-crop + horizontal-flip (+ random erasing) of a float batch N×H×W×C, vectorised in NumPy.

    Each image is reflect-padded by ``padding`` pixels and an H×W window is cut at a random offset
    (a shift of up to ±``padding`` pixels), mirrored with probability ½, and, with probability
    ``erase_probability``, a random rectangle (2–25 % of the area, aspect 0.3–3.3) is set to the
    image mean (random erasing, Zhong et al. 2020). Returns a new array; ``x`` is not modified.
    """
    n, height, width = x.shape[:3]
    padded = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect")
    top = rng.integers(0, 2 * padding + 1, n)
    left = rng.integers(0, 2 * padding + 1, n)
    rows = top[:, None] + np.arange(height)
    cols = left[:, None] + np.arange(width)
    flip = rng.random(n) < 0.5
    cols[flip] = cols[flip, ::-1]
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    if erase_probability:
        erase = np.flatnonzero(rng.random(n) < erase_probability)
        area = rng.uniform(0.02, 0.25, len(erase)) * height * width
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3), len(erase)))
        h = np.clip(np.sqrt(area * aspect).astype(int), 1, height)
        w = np.clip(np.sqrt(area / aspect).astype(int), 1, width)
        y0 = rng.integers(0, height - h + 1)
        x0 = rng.integers(0, width - w + 1)
        inside = ((np.arange(height)[None, :, None] >= y0[:, None, None])
                  & (np.arange(height)[None, :, None] < (y0 + h)[:, None, None])
                  & (np.arange(width)[None, None, :] >= x0[:, None, None])
                  & (np.arange(width)[None, None, :] < (x0 + w)[:, None, None]))
        means = out[erase].mean(axis=(1, 2, 3))
        block = out[erase]
        block[inside] = np.broadcast_to(means[:, None, None], inside.shape)[inside][:, None]
        out[erase] = block
    return out


def keras_layers_augmenter(layers):
    """The batch function ``(x, rng) → augmented x`` that runs Keras preprocessing ``layers`` in training
    mode, to NumPy; their seed generators restart from ``rng`` for every batch, so a batch's
    augmentation depends on ``rng`` alone (a resumed run repeats an uninterrupted one's)."""
    import keras

    states = [v for v in layers.variables if v.path.endswith("seed_generator_state")]

    def augment(x, rng):
        for state in states:
            state.assign(np.array([rng.integers(2 ** 31), 0]).astype(state.dtype))
        return keras.ops.convert_to_numpy(layers(x, training=True))

    return augment


def augmenter(policy, seed=0, padding=4, erase_probability=0.5):
    """The batch function ``(x, rng) → augmented x`` of an augmentation policy (see ``fer_keras.training.recipes``),
    drawing from the NumPy generator ``rng`` only (``EpochBatches`` gives every batch its own, from
    ``[seed, epoch, batch]``): "bialek" runs the Keras layers of :func:`augmentation_layers`;
    "crop_flip" and "crop_flip_erase" are :func:`crop_flip` in NumPy; "none" returns ``None``."""
    if policy in (None, "none"):
        return None
    if policy == "bialek":
        return keras_layers_augmenter(augmentation_layers(seed))
    erase = erase_probability if policy == "crop_flip_erase" else 0.0
    return lambda x, rng: crop_flip(x, rng, padding, erase)
