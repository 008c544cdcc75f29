"""Augmentation: Białek's as Keras preprocessing layers, offline balancing to N per class, the
modern recipe's crop + flip (+ erasing) in NumPy, and "photo" (albumentations: FER2013 faces made to
look like detector crops of colour photos). Keras and albumentations are imported where they are used,
so the data layer can balance with these functions without loading a backend.

Rotation ±10°, horizontal mirror and zoom-in by 1.1–1.2× (Białek et al. 2023, §3.3). The same
layers serve on-the-fly augmentation during training (``augmentation_layers``) and the offline
balancing of the training split (``augment_to_n``).
"""

import random
import threading

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


def photo_pipeline():
    """The "photo" policy as an albumentations ``Compose`` for one uint8 48×48 grey face: FER2013's
    registered crops made to look like ``fer_keras.data.faces.crop_face`` crops of a detector box in a
    colour photo. Each step imitates one way those differ:

    1. Affine (p 0.9): the detector box's scale (0.9–1.15, x and y apart: its aspect), position (±6 %)
       and a tilted head (±10°); the border reflects.
    2. Horizontal flip (p ½): faces are symmetric enough.
    3. One of gamma 0.7–1.5, brightness/contrast ±25 % or CLAHE (p ½): exposure, lighting, phone HDR.
    4. One of Gaussian blur (σ ≤ 1.2), motion blur (3–5 px) or downscaling to 35–75 % and back
       (INTER_AREA both ways, as ``crop_face`` enlarges a small face) (p 0.35): focus, shake, low resolution.
    5. JPEG at quality 30–90 (p 0.3): compression artefacts.
    6. Gaussian noise, σ 1–5 % of the range (p 0.2): sensor noise in dim light.
    7. One rectangle of 10–30 % of each side filled with a random grey (p 0.3): a hand, hair, glasses.
    """
    import os

    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # else its import asks PyPI for a newer version
    import albumentations as A
    import cv2

    return A.Compose([
        A.Affine(scale={"x": (0.9, 1.15), "y": (0.9, 1.15)}, keep_ratio=False, translate_percent=(-0.06, 0.06),
                 rotate=(-10, 10), border_mode=cv2.BORDER_REFLECT_101, p=0.9),
        A.HorizontalFlip(p=0.5),
        A.OneOf([A.RandomGamma(gamma_limit=(70, 150)),
                 A.RandomBrightnessContrast(brightness_limit=0.25, contrast_limit=0.25),
                 A.CLAHE(clip_limit=(1, 3), tile_grid_size=(4, 4))], p=0.5),
        A.OneOf([A.GaussianBlur(sigma_limit=(0.3, 1.2)),
                 A.MotionBlur(blur_limit=(3, 5)),
                 A.Downscale(scale_range=(0.35, 0.75),
                             interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_AREA})], p=0.35),
        A.ImageCompression(compression_type="jpeg", quality_range=(30, 90), p=0.3),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.2),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.1, 0.3),
                        fill="random_uniform", p=0.3),
    ])


def restart(pipeline, rng):
    """Restart the random state of an albumentations ``pipeline`` from the NumPy generator ``rng``: all
    its steps share one NumPy and one Python generator seeded from it. (``Compose(seed=…)`` and
    ``set_random_seed`` give every step its own copy of one stream, so the steps' draws agree: where
    the noise (p 0.2) is added, the image is nearly always mirrored too.)"""
    seed = int(rng.integers(2 ** 63))
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))


def photo_augmenter():
    """The batch function ``(x, rng) → augmented x`` of :func:`photo_pipeline`: the float batch
    N×H×W×C in [0, 1] goes to uint8, through the pipeline image by image, and back to float32.

    Every batch restarts the pipeline's random state from ``rng`` (:func:`restart`); each thread (Keras
    may fetch batches in threads) builds its own pipeline."""
    local = threading.local()

    def augment(x, rng):
        if not hasattr(local, "pipeline"):
            local.pipeline = photo_pipeline()
        restart(local.pipeline, rng)
        images = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
        out = np.stack([local.pipeline(image=image)["image"] for image in images])
        return (out.reshape(x.shape) / np.float32(255)).astype(np.float32)

    return augment


def augmenter(policy, seed=0, padding=4, erase_probability=0.5):
    """The batch function ``(x, rng) → augmented x`` of an augmentation policy (see ``fer_keras.training.recipes``),
    drawing from the NumPy generator ``rng`` only (``EpochBatches`` gives every batch its own, from
    ``[seed, epoch, batch]``): "bialek" runs the Keras layers of :func:`augmentation_layers`;
    "crop_flip" and "crop_flip_erase" are :func:`crop_flip` in NumPy; "photo" is :func:`photo_augmenter`
    (albumentations); "none" returns ``None``."""
    if policy in (None, "none"):
        return None
    if policy == "bialek":
        return keras_layers_augmenter(augmentation_layers(seed))
    if policy == "photo":
        return photo_augmenter()
    erase = erase_probability if policy == "crop_flip_erase" else 0.0
    return lambda x, rng: crop_flip(x, rng, padding, erase)
