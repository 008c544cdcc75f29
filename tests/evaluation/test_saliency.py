"""Saliency methods on models whose answer is known by construction; the mass-ratio measure.

(The check that a briefly trained model looks at the synthetic faces' mouth, eyes and brows is in
test_evaluate.py, which trains a run once for all end-to-end tests.)
"""

import keras
import numpy as np
import pytest

from fer_keras.errors import FERError
from fer_keras.models import build_attention_vit, build_cnn_lstm
from fer_keras.evaluation.saliency import (
    class_probability,
    grad_cam,
    gradient_saliency,
    last_feature_map_layer,
    mask_mass_ratio,
    occlusion_sensitivity,
    saliency_maps,
    select_examples,
)

SIZE = 8
needs_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                      reason="gradient saliency uses tf.GradientTape")


def linear_model(binary=False):
    """8×8×1 → Flatten → Dense: only the top-left 4×4 quadrant has weights (class 1 +1, class 0 −1)."""
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Flatten()(inputs)
    units, activation = (1, "sigmoid") if binary else (2, "softmax")
    dense = keras.layers.Dense(units, activation=activation, name="predictions")
    model = keras.Model(inputs, dense(x))
    quadrant = np.zeros((SIZE, SIZE), np.float32)
    quadrant[:4, :4] = 1.0
    kernel = quadrant.reshape(-1, 1) if binary else np.stack([-quadrant.ravel(), quadrant.ravel()], axis=1)
    dense.set_weights([kernel, np.zeros(units, np.float32)])
    return model, quadrant.astype(bool)


def bright_quadrant_images(n=3):
    images = np.zeros((n, SIZE, SIZE, 1), np.float32)
    images[:, :4, :4] = 0.1  # logits ±1.6: the softmax is not saturated
    return images


@needs_tensorflow
@pytest.mark.parametrize("binary", [False, True])
def test_gradient_saliency_equals_the_weights_of_a_linear_model(binary):
    model, quadrant = linear_model(binary)
    maps = gradient_saliency(model, bright_quadrant_images(), np.array([1, 0, 1]))
    # the class score is the logit: ∂(±w·x)/∂x = ±w, so |gradient| is 1 on the quadrant and 0 elsewhere
    np.testing.assert_allclose(maps, np.broadcast_to(quadrant, maps.shape).astype(np.float32), atol=1e-6)


def test_occlusion_marks_only_the_pixels_the_model_uses():
    model, quadrant = linear_model()
    maps = occlusion_sensitivity(model, bright_quadrant_images(2), np.array([1, 1]), patch=2, stride=2)
    assert maps.shape == (2, SIZE, SIZE)
    assert (maps[:, quadrant] > 0).all()  # hiding the bright quadrant lowers class 1's probability
    np.testing.assert_allclose(maps[:, ~quadrant], 0, atol=1e-6)  # no weights there: nothing changes


@needs_tensorflow
def test_grad_cam_maps_are_non_negative_and_input_sized():
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    images = np.random.default_rng(0).random((5, 16, 16, 1), dtype=np.float32)
    maps = grad_cam(model, images, np.array([0, 1, 2, 0, 1]))
    assert maps.shape == (5, 16, 16) and (maps >= 0).all() and np.isfinite(maps).all()
    assert last_feature_map_layer(model).name == "conv"  # the pool is skipped
    with pytest.raises(FERError, match="no layer 'nope'"):
        grad_cam(model, images, np.zeros(5, int), layer="nope")


def test_grad_cam_default_layers_of_the_thesis_models():
    assert last_feature_map_layer(build_cnn_lstm()).name == "block5_relu"
    assert last_feature_map_layer(build_attention_vit()).name == "block4_ln"


def test_gradient_methods_need_tensorflow_but_occlusion_does_not(monkeypatch):
    model, _ = linear_model()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    for method in ("gradient", "gradcam"):
        with pytest.raises(FERError, match="needs the TensorFlow backend.*occlusion works on any backend"):
            saliency_maps(model, bright_quadrant_images(1), [1], method)
    assert saliency_maps(model, bright_quadrant_images(1), [1], "occlusion", patch=2, stride=2).shape == (1, 8, 8)


def test_mask_mass_ratio_compares_saliency_share_with_area_share():
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True  # a quarter of each image
    assert mask_mass_ratio(np.ones((2, 4, 4)), masks) == pytest.approx(1.0)  # uniform: no preference
    assert mask_mass_ratio(masks.astype(float), masks) == pytest.approx(4.0)  # all mass inside: 1 / 0.25
    half = np.where(masks, 1.0, 1 / 3)  # inside 4 × 1, outside 12 × 1/3: half the mass on a quarter of the area
    assert mask_mass_ratio(half, masks) == pytest.approx(2.0)
    with pytest.raises(FERError):
        mask_mass_ratio(np.zeros((2, 4, 4)), masks)


def test_class_probability_and_example_selection():
    np.testing.assert_allclose(class_probability(np.array([[0.8], [0.3]]), [0, 1]), [0.2, 0.3])
    np.testing.assert_allclose(class_probability(np.array([[0.1, 0.9], [0.6, 0.4]]), [1, 0]), [0.9, 0.6])
    labels = np.array([2, 0, 0, 1, 2, 0, 1])
    picked = select_examples(labels, 5)
    assert len(set(picked)) == 5
    assert labels[picked[:3]].tolist() == [0, 1, 2]  # round-robin over the classes, in label order
    assert len(select_examples(labels, 50)) == len(labels)
