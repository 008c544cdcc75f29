"""Ensemble combiners on fixed probability arrays: mean, weighted mean, vote (with ties), one-vs-rest."""

import keras
import numpy as np
import pytest

from fer_keras.errors import FERError
from fer_keras.models.combine import average_probabilities, combine, ensemble_model, majority_vote, one_vs_rest

A = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.4, 0.2]])
B = np.array([[0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.3, 0.4]])


def test_average_probabilities_is_the_mean_of_members():
    np.testing.assert_allclose(average_probabilities([A, B]), [[0.4, 0.5, 0.1], [0.15, 0.25, 0.6], [0.35, 0.35, 0.3]])


def test_weighted_average_normalises_the_weights():
    np.testing.assert_allclose(average_probabilities([A, B], weights=[3, 1]), 0.75 * A + 0.25 * B)
    np.testing.assert_allclose(average_probabilities([A, B], weights=[1, 0]), A)


def test_majority_vote_counts_each_members_arg_max():
    c = np.array([[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    # row 0: votes 0, 1, 0 → 0; row 1: 2, 2, 2 → 2; row 2: A's tie 0/1 goes to 0, then 2, 2 → 2
    np.testing.assert_array_equal(majority_vote([A, B, c]), [0, 2, 2])


def test_majority_vote_breaks_ties_by_summed_probability_then_lowest_index():
    a = np.array([[0.6, 0.4, 0.0], [0.5, 0.0, 0.5], [0.0, 0.6, 0.4]])
    b = np.array([[0.45, 0.55, 0.0], [0.0, 0.5, 0.5], [0.0, 0.4, 0.6]])
    # row 0: one vote each for 0 and 1; summed probability 1.05 vs 0.95 → 0
    # row 1: votes 0 and 1 (each member's own tie goes to its lowest index); sums 0.5 and 0.5 → lowest, 0
    # row 2: votes 1 and 2; sums 1.0 and 1.0 → lowest index, 1
    np.testing.assert_array_equal(majority_vote([a, b]), [0, 0, 1])
    b2 = np.array([[0.3, 0.7, 0.0]])
    np.testing.assert_array_equal(majority_vote([a[:1], b2]), [1])  # sums 0.9 vs 1.1 → 1


def test_weighted_vote_lets_a_heavier_member_win():
    # unweighted, row 0 is a tie (A votes 0, B votes 1) won by B's larger probability sum (1.0 vs 0.8);
    # row 2 is a tie (A votes 0, B votes 2) won by class 0 (0.7 vs 0.6)
    np.testing.assert_array_equal(majority_vote([A, B]), [1, 2, 0])
    np.testing.assert_array_equal(majority_vote([A, B], weights=[2, 1]), [0, 2, 0])
    np.testing.assert_array_equal(majority_vote([A, B], weights=[1, 2]), [1, 2, 2])


def test_one_vs_rest_takes_the_arg_max_of_the_concatenated_sigmoid_scores():
    scores = [np.full((2, 1), 0.1) for _ in range(7)]
    scores[3] = np.array([[0.9], [0.2]])
    scores[5] = np.array([0.3, 0.8])  # N-vectors are accepted too
    np.testing.assert_array_equal(one_vs_rest(scores), [3, 5])
    tied = [np.array([0.5, 0.1]) for _ in range(7)]
    np.testing.assert_array_equal(one_vs_rest(tied), [0, 0])  # ties: lowest class index


def test_combine_dispatches_and_rejects_bad_input():
    np.testing.assert_array_equal(combine("mean", [A, B]), [1, 2, 0])
    np.testing.assert_array_equal(combine("vote", [A, B]), majority_vote([A, B]))
    with pytest.raises(FERError, match="one binary model per emotion"):
        one_vs_rest([np.zeros(3)] * 6)
    with pytest.raises(FERError, match="one sigmoid score"):
        one_vs_rest([A] * 7)
    with pytest.raises(FERError, match="same shape"):
        average_probabilities([A, B[:2]])
    with pytest.raises(FERError, match="2 weights for 3 members"):
        average_probabilities([A, B, A], weights=[1, 1])
    with pytest.raises(FERError, match="non-negative"):
        majority_vote([A, B], weights=[1, -1])
    with pytest.raises(FERError, match="unknown ensemble method"):
        combine("median", [A, B])
    with pytest.raises(FERError, match="weights apply"):
        combine("ovr", [np.zeros(3)] * 7, weights=[1] * 7)


def test_ensemble_model_runs_every_member_even_with_equal_names():
    def member(seed):
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((48, 48, 1))
        x = keras.layers.Flatten()(keras.layers.AveragePooling2D(8)(inputs))
        return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x), name="same_name")

    members = [member(0), member(1)]
    x = np.random.default_rng(0).random((5, 48, 48, 1), dtype=np.float32)
    joined = ensemble_model(members).predict(x, verbose=0)
    assert len(joined) == 2
    for out, m in zip(joined, members):
        np.testing.assert_allclose(out, m.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_split_key_tells_a_staged_leaky_run_from_an_honest_one_on_the_same_split():
    """A staged run (LEAKY: it trained on PublicTest) keeps its variant's honest protocol; the key reads
    the run's, so an ensemble refuses to mix it with an honest run and report the mix as honest."""
    from fer_keras.evaluation.evaluate import split_key
    from fer_keras.runs.config import RunConfig

    honest = {"variant": {"name": "v", "cleaning": [], "split": "usage", "protocol": "honest"},
              "data": {"source": "fer2013.csv", "fingerprint": "f"}, "prepared": {"protocol": "honest", "leaky": False}}
    staged = {**honest, "prepared": {"protocol": "staged", "leaky": True}}
    older = {k: v for k, v in honest.items() if k != "prepared"}
    honest, staged, older = map(RunConfig.from_dict, (honest, staged, older))
    assert split_key(honest)["protocol"] == "honest" and split_key(staged)["protocol"] == "staged"
    assert split_key(honest) != split_key(staged)
    assert split_key(older) == split_key(honest)  # older runs
