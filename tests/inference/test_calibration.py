"""The class bias for photos (``fer_keras.inference.calibration``) and the recognizer that applies it."""

import json

import numpy as np
import pytest

from fer_keras.errors import FERError
from fer_keras.inference.calibration import (apply_class_bias, check_class_bias, cross_validated_predictions,
                                             fit_class_bias)


def shifted(n=1400, shift=2.0, seed=0):
    """Labels of 7 balanced classes and probabilities of a model that knows them but under-answers class 6:
    its evidence for class 6 is divided by e^shift."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 7
    logits = rng.normal(0, 1, (n, 7)) + 1.5 * np.eye(7)[labels]
    logits[:, 6] -= shift
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return probabilities, labels


def test_a_bias_reweights_by_its_exponent_and_renormalises():
    p = np.array([[0.5, 0.3, 0.2]])
    assert apply_class_bias(p, None) is p
    out = apply_class_bias(p, np.log([1.0, 1.0, 4.0]))
    assert np.allclose(out, np.array([[0.5, 0.3, 0.8]]) / 1.6) and np.allclose(out.sum(1), 1)
    assert np.allclose(apply_class_bias(p, np.zeros(3)), p)


def test_the_fitted_bias_undoes_a_planted_prior_shift():
    probabilities, labels = shifted()
    before = (probabilities.argmax(1) == labels).mean()
    recall_6 = (probabilities.argmax(1)[labels == 6] == 6).mean()
    bias = fit_class_bias(probabilities, labels)
    after = apply_class_bias(probabilities, bias).argmax(1)
    oracle = apply_class_bias(probabilities, np.eye(7)[6] * 2.0).argmax(1)  # the planted shift undone
    assert (after == labels).mean() > max(before + 0.03, (oracle == labels).mean() - 0.01)
    assert (after[labels == 6] == 6).mean() > recall_6 + 0.3
    assert bias[6] - np.delete(bias, 6).mean() > 1.0  # the shift comes back, roughly


def test_balance_trades_accuracy_for_the_rare_class():
    """With one class rare, plain likelihood (balance 0) follows the counts; weighting classes alike
    (balance 1) gives the rare class a larger offset and more of its faces."""
    probabilities, labels = shifted(n=2100, shift=0.0, seed=4)
    keep = (labels != 6) | (np.arange(len(labels)) % 10 == 0)  # class 6 ten times rarer
    probabilities, labels = probabilities[keep], labels[keep]
    plain, balanced = fit_class_bias(probabilities, labels, balance=0), fit_class_bias(probabilities, labels, balance=1)
    assert balanced[6] > plain[6] + 0.5
    recall = [(apply_class_bias(probabilities, b).argmax(1)[labels == 6] == 6).mean() for b in (plain, balanced)]
    assert recall[1] > recall[0] + 0.2


def test_the_fit_is_the_weighted_likelihood_optimum_and_bounded():
    """At the fitted bias each class's weighted predicted mass equals its weighted label mass (the gradient of
    the class-weighted likelihood is zero) on shifted, imbalanced faces; a class with no faces stays bounded."""
    from fer_keras.inference.calibration import BALANCE, LIMIT

    probabilities, labels = shifted(n=2100, seed=5)
    keep = (labels != 6) | (np.arange(len(labels)) % 5 == 0)
    probabilities, labels = probabilities[keep], labels[keep]
    bias = fit_class_bias(probabilities, labels)
    weights = np.bincount(labels, minlength=7).astype(float) ** -BALANCE
    weights = weights[labels] / weights[labels].sum()
    np.testing.assert_allclose(weights @ apply_class_bias(probabilities, bias), weights @ np.eye(7)[labels], atol=2e-4)
    absent = fit_class_bias(probabilities[labels != 2], labels[labels != 2])
    assert np.all(np.abs(absent) <= 2 * LIMIT) and absent[2] == absent.min()


def test_cross_validated_predictions_carry_the_gain_to_faces_not_fitted_on():
    probabilities, labels = shifted(seed=1)
    predicted = cross_validated_predictions(probabilities, labels, folds=5)
    assert predicted.shape == labels.shape
    assert (predicted == labels).mean() > (probabilities.argmax(1) == labels).mean() + 0.025
    # a model with no shift gains nothing worth speaking of
    fair, labels = shifted(shift=0.0, seed=2)
    assert abs((cross_validated_predictions(fair, labels) == labels).mean() - (fair.argmax(1) == labels).mean()) < 0.03


def test_a_bias_of_the_wrong_length_or_not_finite_is_one_error():
    assert check_class_bias([0, 1, 2], 3, "x").dtype == np.float64
    for bad in ([0, 1], [0, 1, float("nan")], "abc", [[0, 1, 2]]):
        with pytest.raises(FERError, match="x: a class bias is a list of 3"):
            check_class_bias(bad, 3, "x")


def test_the_recognizer_applies_the_packaged_bias_and_only_to_the_packaged_model(tmp_path):
    import keras

    from fer_keras.inference.predict import EmotionRecognizer
    from fer_keras.models.pretrained import DEFAULT_MODEL, MODEL_CARD

    card = json.loads(MODEL_CARD.read_text())
    faces = np.random.default_rng(0).integers(0, 256, (16, 48, 48), dtype=np.uint8)
    shipped = EmotionRecognizer(detector="haar")
    if card.get("photo_class_bias") is not None:
        assert np.allclose(shipped.class_bias, card["photo_class_bias"])
        assert np.allclose(shipped.classify(faces), apply_class_bias(shipped.scores(faces), shipped.class_bias))
    assert EmotionRecognizer(str(DEFAULT_MODEL), detector="haar").class_bias is None  # a model given by path
    assert EmotionRecognizer(detector="haar", class_bias=None).class_bias is None
    tilted = EmotionRecognizer(detector="haar", class_bias=[0, 0, 0, 0, 0, 0, 5.0])
    assert (tilted.classify(faces).argmax(1) == 6).mean() > (tilted.scores(faces).argmax(1) == 6).mean()
    with pytest.raises(FERError, match="class_bias: a class bias is a list of 7"):
        EmotionRecognizer(detector="haar", class_bias=[1.0, 2.0])
    with pytest.raises(FERError, match="class_bias must be 'auto'"):
        EmotionRecognizer(detector="haar", class_bias="card")
    assert keras.ops  # (Keras loaded the model above)


def test_too_few_faces_to_fold_is_one_error():
    probabilities, labels = np.full((3, 7), 1 / 7), np.array([0, 1, 2])  # one face per class: no two folds
    with pytest.raises(FERError, match=r"too few labelled faces \(3\) to score a class bias on folds"):
        cross_validated_predictions(probabilities, labels)
