"""The "photo" augmentation (albumentations): detector-crop-like FER2013 faces, drawn from the batch's rng only."""

import warnings

import cv2
import numpy as np
import pytest

from fer_keras.data.augment import augmenter, photo_pipeline, restart
from fer_keras.errors import FERError
from fer_keras.training.recipes import MODERN, override


def synthetic_face():
    """A smooth 48×48 face in [0, 1]: a light oval on a dark ground, eyes, nose and a mouth."""
    image = np.full((48, 48), 60, np.uint8)
    cv2.ellipse(image, (24, 26), (16, 20), 0, 0, 360, 170, -1)
    for cx in (17, 31):
        cv2.ellipse(image, (cx, 21), (4, 2), 0, 0, 360, 40, -1)
    cv2.line(image, (24, 22), (22, 31), 120, 2)
    cv2.ellipse(image, (24, 36), (7, 3), 0, 0, 180, 50, 2)
    return cv2.GaussianBlur(image, (3, 3), 0).astype(np.float32) / 255


def test_photo_keeps_shape_dtype_and_range_and_warns_of_nothing():
    x = np.random.default_rng(0).random((40, 48, 48, 1), dtype=np.float32)
    x[0], x[1] = 0.0, 1.0
    before = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated argument, no update check
        out = augmenter("photo")(x, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(x, before)  # the input is not modified


def test_photo_repeats_with_the_same_rng_and_differs_with_another():
    x = np.repeat(synthetic_face()[None, :, :, None], 16, axis=0)
    first = augmenter("photo")(x, np.random.default_rng([3, 0, 5]))
    again = augmenter("photo")(x, np.random.default_rng([3, 0, 5]))  # a new augmenter: a resumed run
    np.testing.assert_array_equal(first, again)
    other = augmenter("photo")(x, np.random.default_rng([3, 0, 6]))
    assert not np.array_equal(first, other)
    assert len({image.tobytes() for image in first}) == len(first)  # the copies in a batch differ too


def test_photo_changes_the_face_but_keeps_it_recognisable():
    face = synthetic_face()
    x = np.repeat(face[None, :, :, None], 256, axis=0)
    out = augmenter("photo")(x, np.random.default_rng(0))
    change = np.abs(out - x).mean(axis=(1, 2, 3))
    assert (change > 0).mean() > 0.95  # nearly every image changed (only an unlucky few get nothing but a mirror)
    assert 0.03 < change.mean() < 0.2 and change.max() < 0.45
    correlation = np.array([np.corrcoef(image.ravel(), face.ravel())[0, 1] for image in out[..., 0]])
    assert np.median(correlation) > 0.75 and (correlation > 0.5).mean() > 0.95


def test_photo_steps_draw_independently():
    """restart shares one generator among the steps: whether the noise is added says nothing of the mirror."""
    pipeline = photo_pipeline()
    pipeline.save_applied_params = True
    image = (synthetic_face() * 255).astype(np.uint8)[..., None]
    flipped, noised, both = 0, 0, 0
    for batch in range(150):
        restart(pipeline, np.random.default_rng(batch))
        for _ in range(4):
            applied = {name for name, _ in pipeline(image=image)["applied_transforms"]}
            flipped += "HorizontalFlip" in applied
            noised += "GaussNoise" in applied
            both += {"HorizontalFlip", "GaussNoise"} <= applied
    assert 0.4 < flipped / 600 < 0.6 and 0.12 < noised / 600 < 0.28
    assert 0.35 < both / noised < 0.65  # seeded with set_random_seed instead, about 0.9


def test_photo_is_a_recipe_augmentation_and_an_unknown_one_is_one_line():
    assert override(MODERN, ["augmentation=photo"]).augmentation == "photo"
    with pytest.raises(FERError) as refused:
        override(MODERN, ["augmentation=photos"])
    message = str(refused.value)
    assert "unknown augmentation 'photos'" in message and "photo" in message.split("expected one of")[1]
    assert "\n" not in message
