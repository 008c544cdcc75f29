"""The embedded synthetic dataset: deterministic, FER2013-shaped, learnable, with exactly known defects."""

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_keras import EMOTIONS
from fer_keras.data import SPLITS, FERData, FERDataError, load, load_csv
from fer_keras.data.hashing import image_hashes
from fer_keras.data.synthetic import (FER2013_TRAIN_COUNTS, MASK_PARTS, PlantedDefects, generate,
                                      load_synthetic, main)

N = 3000


@pytest.fixture(scope="module")
def synthetic():
    return generate(n_samples=N, seed=0, return_masks=True)


@pytest.fixture(scope="module")
def natural(synthetic):
    """A mask over rows: True for drawn faces, False for planted outliers."""
    keep = np.ones(N, bool)
    keep[synthetic.truth.bright_outliers] = keep[synthetic.truth.constant_images] = False
    return keep


def identical_groups(data):
    """Rows of every image that occurs more than once, found independently by hashing the pixels."""
    codes, _ = pd.factorize(image_hashes(data.images))
    repeated = np.flatnonzero(np.bincount(codes) > 1)
    return [np.flatnonzero(codes == code) for code in repeated]


def as_set(groups):
    return {tuple(int(i) for i in g) for g in groups}


def test_generate_is_deterministic_per_seed():
    first, again, other = generate(600, seed=3), generate(600, seed=3), generate(600, seed=4)
    assert first.data.images.tobytes() == again.data.images.tobytes()
    assert np.array_equal(first.data.labels, again.data.labels)
    assert np.array_equal(first.data.usage, again.data.usage)
    assert as_set(first.truth.duplicate_groups) == as_set(again.truth.duplicate_groups)
    assert first.data.images.tobytes() != other.data.images.tobytes()


def test_masks_do_not_change_the_images():
    assert generate(300, seed=1, return_masks=True).data.images.tobytes() == generate(300, seed=1).data.images.tobytes()


def test_shape_dtype_source_and_kaggle_row_order(synthetic):
    data = synthetic.data
    assert isinstance(data, FERData) and len(data) == N
    assert data.images.shape == (N, 48, 48) and data.images.dtype == np.uint8
    assert data.labels.dtype == np.int64 and set(data.labels) == set(range(len(EMOTIONS)))
    assert data.source == f"synthetic(n={N}, seed=0)"
    assert data.source_ids[17] == "synthetic 17"
    split_order = np.array([SPLITS.index(u) for u in data.usage])
    assert np.all(np.diff(split_order) >= 0), "rows must run Training, PublicTest, PrivateTest"


def test_class_proportions_follow_fer2013(synthetic):
    expected = np.array(list(FER2013_TRAIN_COUNTS.values()), float)
    expected /= expected.sum()
    observed = np.bincount(synthetic.data.labels, minlength=len(EMOTIONS)) / N
    assert list(FER2013_TRAIN_COUNTS) == list(EMOTIONS)
    assert np.abs(observed - expected).max() < 0.01
    assert observed[EMOTIONS.index("disgust")] < 0.025  # rare, as in FER2013 (1.5 %)


def test_usage_is_80_10_10_within_every_class(synthetic):
    data = synthetic.data
    share = {s: np.mean(data.usage == s) for s in SPLITS}
    assert share["Training"] == pytest.approx(0.8, abs=0.015)
    assert share["PublicTest"] == pytest.approx(0.1, abs=0.01)
    assert share["PrivateTest"] == pytest.approx(0.1, abs=0.01)
    for c in range(len(EMOTIONS)):
        if c != EMOTIONS.index("disgust"):
            assert np.mean(data.usage[data.labels == c] == "Training") == pytest.approx(0.8, abs=0.04)


def test_planted_duplicates_are_exactly_the_identical_images(synthetic):
    data, truth = synthetic.data, synthetic.truth
    groups = identical_groups(data)
    same_label = [g for g in groups if len(set(data.labels[g])) == 1]
    conflicting = [g for g in groups if len(set(data.labels[g])) > 1]
    assert as_set(same_label) == as_set(truth.duplicate_groups)
    assert as_set(conflicting) == as_set(truth.conflict_groups)
    assert len(truth.conflict_groups) == 12
    assert all(2 <= len(g) <= 3 for g in truth.duplicate_groups + truth.conflict_groups)
    assert truth.n_extra_duplicates == N - len(set(image_hashes(data.images).tolist()))
    assert truth.n_extra_duplicates - sum(len(g) - 1 for g in truth.conflict_groups) == round(0.04 * N)
    assert truth.n_conflict_rows == sum(len(g) for g in conflicting)


def test_conflicting_copies_all_carry_different_labels(synthetic):
    labels = synthetic.data.labels
    assert all(len(set(labels[g])) == len(g) for g in synthetic.truth.conflict_groups)


def test_straddling_groups_are_those_spanning_splits(synthetic):
    data, truth = synthetic.data, synthetic.truth
    spanning = [g for g in identical_groups(data) if len(set(data.usage[g])) > 1]
    assert as_set(spanning) == as_set(truth.straddling_groups)
    n_groups = len(truth.duplicate_groups) + len(truth.conflict_groups)
    assert 0.15 * n_groups < len(truth.straddling_groups) < 0.5 * n_groups  # FER2013: 557 of 1,516


def test_bright_outliers_and_constant_images_are_exact(synthetic):
    images, truth = synthetic.data.images.reshape(N, -1), synthetic.truth
    bright = np.flatnonzero(images.mean(axis=1) > 230)
    constant = np.flatnonzero(images.min(axis=1) == images.max(axis=1))
    assert np.array_equal(bright, truth.bright_outliers) and len(bright) == 10
    assert np.array_equal(constant, truth.constant_images) and len(constant) == 4
    assert (images[constant] == 0).all(axis=1).any(), "an all-black image, like FER2013's"
    assert len(np.intersect1d(bright, constant)) == 1, "the blank white image is both"
    planted = np.concatenate([g for g in truth.duplicate_groups + truth.conflict_groups])
    assert not np.isin(np.union1d(bright, constant), planted).any(), "outliers are not duplicated"


def test_counts_follow_the_arguments():
    truth = generate(800, seed=5, duplicate_fraction=0.0, conflict_groups=3, n_bright_outliers=0,
                     n_constant=2).truth
    assert truth.duplicate_groups == () and len(truth.conflict_groups) == 3
    assert len(truth.bright_outliers) == 0 and len(truth.constant_images) == 2


def test_masks_cover_the_face_parts_in_their_places(synthetic, natural):
    masks = synthetic.masks
    assert masks.shape == (N, len(MASK_PARTS), 48, 48) and masks.dtype == bool
    assert not masks[~natural].any(), "outliers have no face parts"
    faces = masks[natural]
    assert faces.any(axis=(2, 3)).all(), "every face has a mouth, eyes and brows"
    rows = np.arange(48)[None, None, :, None]
    centre_y = (faces * rows).sum(axis=(2, 3)) / faces.sum(axis=(2, 3))  # per face and part
    mouth, eyes, brows = centre_y.T
    assert np.mean(mouth > 24) > 0.95 and np.mean(eyes < 24) > 0.9 and np.mean(brows < 24) > 0.95
    assert np.mean((brows < eyes) & (eyes < mouth)) > 0.99
    mouth_area = faces[:, 0].sum(axis=(1, 2))
    assert 10 < np.median(mouth_area) < 200


def test_duplicated_rows_share_the_masks_of_their_original(synthetic):
    for group in synthetic.truth.duplicate_groups + synthetic.truth.conflict_groups:
        assert (synthetic.masks[group] == synthetic.masks[group[0]]).all()


def test_faces_are_learnable_from_hog_features(synthetic, natural):
    """A linear model on HOG features beats twice the majority-class rate on PrivateTest."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = synthetic.data
    hog = cv2.HOGDescriptor((48, 48), (16, 16), (8, 8), (8, 8), 9)
    features = np.stack([hog.compute(image) for image in data.images])
    train = natural & (data.usage == "Training")
    test = data.usage == "PrivateTest"
    model = make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.0))
    model.fit(features[train], data.labels[train])
    accuracy = model.score(features[test], data.labels[test])
    majority = np.bincount(data.labels[test]).max() / test.sum()
    assert accuracy > 2 * majority, f"accuracy {accuracy:.3f}, majority class {majority:.3f}"


def test_load_synthetic_is_memoised_and_backs_load():
    data = load_synthetic(n_samples=300, seed=2)
    assert load_synthetic(n_samples=300, seed=2) is data
    assert data.images.tobytes() == generate(300, seed=2).data.images.tobytes()
    assert not data.images.flags.writeable, "the memoised arrays are shared, so read-only"
    assert load("synthetic") is load_synthetic()


def test_too_few_samples_for_the_planted_defects_is_a_clear_error():
    with pytest.raises(FERDataError, match="n_samples=20 is too small"):
        generate(n_samples=20)
    with pytest.raises(FERDataError, match="duplicate_fraction"):
        generate(n_samples=500, duplicate_fraction=0.7)


def test_truth_properties_count_rows():
    truth = PlantedDefects(duplicate_groups=(np.array([0, 5]), np.array([1, 2, 9])),
                           conflict_groups=(np.array([3, 4]),), bright_outliers=np.array([], int),
                           constant_images=np.array([], int), straddling_groups=())
    assert truth.n_extra_duplicates == 1 + 2 + 1
    assert truth.n_conflict_rows == 2


def test_cli_writes_a_kaggle_csv(tmp_path, capsys):
    out = tmp_path / "synthetic.csv"
    assert main(["--out", str(out), "--n", "300", "--seed", "7"]) == 0
    assert str(out) in capsys.readouterr().out
    written, expected = load_csv(out, cache=False), generate(300, seed=7).data
    assert np.array_equal(written.images, expected.images)
    assert np.array_equal(written.labels, expected.labels)
    assert list(written.usage) == list(expected.usage)


def test_cli_reports_bad_arguments_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "x.csv"), "--n", "10"])
    assert exit_info.value.code == 2
    assert "too small" in capsys.readouterr().err
