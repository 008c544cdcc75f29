"""Splits, pre_proc_data balancing (honest and thesis protocols), augmentation, one-vs-rest sets."""

import numpy as np
import pytest

from fer_keras import EMOTIONS
from fer_keras.data.augment import augment_to_n
from fer_keras.data import FERDataError, make_fer_data
from fer_keras.data.binary import binary_labels, one_vs_rest
from fer_keras.data.hashing import duplicate_group_ids, image_hashes, occurs_in
from fer_keras.data.splits import split
from fer_keras.errors import FERError
from fer_keras.data.pre_proc_data import pre_proc_data

from conftest import random_images

COUNTS = [40, 6, 40, 70, 48, 32, 50]  # FER2013-like imbalance, disgust rare


@pytest.fixture(scope="module")
def imbalanced():
    """Random images with FER2013-like class counts, a Usage split, and 5 images copied across splits."""
    labels = np.repeat(np.arange(7), COUNTS)
    rng = np.random.default_rng(1)
    rng.shuffle(labels)
    images = random_images(len(labels), seed=2)
    usage = np.array(["Training"] * 230 + ["PublicTest"] * 28 + ["PrivateTest"] * 28, dtype=object)
    images[[0, 1, 2, 3, 4]] = images[[240, 250, 260, 270, 280]]  # train copies of val/test images
    return make_fer_data(images, labels, usage)


def frozen_copy(data):
    return data.images.copy(), data.labels.copy(), data.usage.copy()


def assert_unchanged(data, before):
    assert np.array_equal(data.images, before[0]) and np.array_equal(data.labels, before[1])
    assert list(data.usage) == list(before[2])


def test_duplicate_group_ids_number_identical_images_together():
    images = random_images(4)
    ids = duplicate_group_ids(np.stack([images[0], images[1], images[0], images[2], images[1]]))
    assert ids.tolist() == [0, 1, 0, 2, 1]
    assert len(set(image_hashes(images).tolist())) == 4


def test_usage_split_removes_train_copies_of_test_images(imbalanced):
    before = frozen_copy(imbalanced)
    parts = split(imbalanced, "usage")
    assert parts.sizes() == {"train": 225, "val": 28, "test": 28}
    assert not occurs_in(parts.train.images, np.concatenate([parts.val.images, parts.test.images])).any()
    assert "dropped 5 train rows" in parts.train.notes[-1]
    assert_unchanged(imbalanced, before)


@pytest.mark.parametrize("test_fraction", [0.1, 0.2])
def test_stratified_group_aware_split_keeps_copies_together(imbalanced, test_fraction):
    parts = split(imbalanced, "stratified", test_fraction=test_fraction, seed=3, dedupe=False)
    assert sum(parts.sizes().values()) == len(imbalanced)
    assert not occurs_in(parts.test.images, parts.train.images).any()
    assert abs(len(parts.test) / len(imbalanced) - test_fraction) < 0.03
    # stratified: each emotion's share of the test set is close to its share overall
    share = np.bincount(parts.test.labels, minlength=7) / len(parts.test)
    assert np.abs(share - np.array(COUNTS) / sum(COUNTS)).max() < 0.06


def test_unknown_split_method_and_a_usage_without_test_rows_are_clear(imbalanced):
    with pytest.raises(FERDataError, match="unknown split method"):
        split(imbalanced, "kfold")
    only_training = make_fer_data(imbalanced.images, imbalanced.labels, usage=["Training"] * len(imbalanced))
    with pytest.raises(FERDataError, match="no rows with Usage PublicTest, PrivateTest"):
        split(only_training, "usage")


def test_data_without_usage_gets_an_honest_stratified_split_with_a_note(imbalanced):
    no_usage = make_fer_data(imbalanced.images, imbalanced.labels)
    parts = split(no_usage, "usage", seed=2)
    assert sum(parts.sizes().values()) <= len(no_usage)  # cross-split copies leave train / val
    assert abs(len(parts.test) / len(no_usage) - 0.1) < 0.03 and abs(len(parts.val) / len(no_usage) - 0.1) < 0.03
    assert not occurs_in(parts.test.images, parts.train.images).any()
    assert any("no Usage column: a stratified, duplicate-aware split" in note for note in parts.train.notes)


def test_without_public_test_a_part_of_training_is_held_out_for_validation(imbalanced):
    usage = np.where(np.arange(len(imbalanced)) % 5 == 0, "PrivateTest", "Training")  # Kaggle's train/ + test/
    folders = make_fer_data(imbalanced.images, imbalanced.labels, usage=usage)
    parts = split(folders, "usage")
    assert len(parts.test) == (usage == "PrivateTest").sum()  # the test split is the folder's own
    n_training = (usage == "Training").sum()
    assert abs(len(parts.val) / n_training - 0.1) < 0.03 and len(parts.train) + len(parts.val) <= n_training
    assert not occurs_in(parts.val.images, parts.train.images).any()
    assert any("no PublicTest rows" in note for note in parts.val.notes)


def test_training_holdout_validates_on_a_stratified_fifth_of_training_and_tests_on_private_test(imbalanced):
    before = frozen_copy(imbalanced)
    parts = split(imbalanced, "training_holdout", seed=4)
    assert len(parts.test) == 28 and set(parts.test.usage) == {"PrivateTest"}  # PublicTest is not used
    assert set(parts.train.usage) == set(parts.val.usage) == {"Training"}
    assert abs(len(parts.val) / 230 - 0.2) < 0.03 and len(parts.train) + len(parts.val) <= 230
    assert not occurs_in(parts.train.images, np.concatenate([parts.val.images, parts.test.images])).any()
    share = np.bincount(parts.val.labels, minlength=7) / len(parts.val)
    training = imbalanced.split("Training").labels
    assert np.abs(share - np.bincount(training, minlength=7) / len(training)).max() < 0.06
    assert any("20% of Training (seed 4) validates" in note for note in parts.val.notes)
    assert_unchanged(imbalanced, before)
    with pytest.raises(FERDataError, match="training_holdout split needs Usage rows Training and PrivateTest"):
        split(make_fer_data(imbalanced.images, imbalanced.labels), "training_holdout")


@pytest.mark.parametrize("sampling", ["ros", "smote", "augment"])
def test_resampling_balances_the_training_split_only(imbalanced, sampling):
    before = frozen_copy(imbalanced)
    prepared = pre_proc_data(imbalanced, sampling=sampling, n_per_class=80)
    counts = np.bincount(prepared.labels_train, minlength=7)
    assert len(set(counts.tolist())) == 1, counts
    assert counts[0] == (80 if sampling == "augment" else max(np.bincount(split(imbalanced).train.labels)))
    assert len(prepared.x_val) == 28 and len(prepared.x_test) == 28  # never resampled
    assert prepared.x_train.dtype == np.float32 and prepared.x_train.shape[1:] == (48, 48, 1)
    assert 0 <= prepared.x_train.min() and prepared.x_train.max() <= 1
    assert prepared.y_train.shape == (len(prepared.x_train), 7)
    assert not prepared.leaky
    train_u8 = np.rint(prepared.x_train[..., 0] * 255).astype(np.uint8)
    test_u8 = np.rint(prepared.x_test[..., 0] * 255).astype(np.uint8)
    assert not occurs_in(test_u8, train_u8).any()
    assert_unchanged(imbalanced, before)


def test_smote_rounds_its_interpolated_pixels():
    """A minority class of an all-0 and an all-1 image: SMOTE's new images lie between them, so
    rounding makes some all-1 (truncating, as a cast of uint8 input does, would make them all 0)."""
    from fer_keras.data.pre_proc_data import balance

    constant = np.zeros((2, 48, 48), np.uint8)
    constant[1] = 1
    images = np.concatenate([random_images(10, seed=4), constant])
    labels = np.array([0] * 10 + [1, 1])
    out, out_labels, _ = balance(images, labels, "smote", seed=0)
    new = out[len(images):]
    assert out.dtype == np.uint8 and len(new) == 8 and (out_labels[len(images):] == 1).all()
    assert all(len(np.unique(image)) == 1 for image in new)  # each a constant image, 0 or 1
    assert 0 < sum(image[0, 0] == 1 for image in new) < 8


def test_class_weight_is_inverse_frequency_without_resampling(imbalanced):
    prepared = pre_proc_data(imbalanced, sampling="class_weight")
    train_labels = split(imbalanced).train.labels
    counts = np.bincount(train_labels, minlength=7)
    assert len(prepared.x_train) == len(train_labels)
    for k in range(7):
        assert prepared.class_weight[k] == pytest.approx(len(train_labels) / (7 * counts[k]))
    assert prepared.class_weight[1] > prepared.class_weight[3]  # rare disgust weighs more than happy


def test_thesis_protocol_is_leaky_and_says_so(imbalanced):
    prepared = pre_proc_data(imbalanced, sampling="ros", protocol="thesis", test_fraction=0.2)
    assert prepared.leaky and prepared.protocol == "thesis"
    train_u8 = np.rint(prepared.x_train[..., 0] * 255).astype(np.uint8)
    test_u8 = np.rint(prepared.x_test[..., 0] * 255).astype(np.uint8)
    overlap = int(occurs_in(test_u8, train_u8).sum())
    assert overlap > 0
    assert f"{overlap} of {len(test_u8)} test images also occur in training" in prepared.notes[-1]
    assert prepared.notes[-1].startswith("LEAKY")


def test_bad_sampling_and_protocol_names(imbalanced):
    with pytest.raises(FERError, match="unknown sampling 'adasyn'"):
        pre_proc_data(imbalanced, sampling="adasyn")
    with pytest.raises(FERError, match="unknown protocol"):
        pre_proc_data(imbalanced, protocol="leaky")


def test_augment_to_n_tops_up_with_new_images_and_keeps_originals():
    images, labels = random_images(30, seed=5), np.array([0] * 20 + [1] * 10)
    out_images, out_labels = augment_to_n(images, labels, n_per_class=25, seed=0)
    assert np.bincount(out_labels).tolist() == [25, 25]
    assert np.array_equal(out_images[:30], images)
    assert not occurs_in(out_images[30:], images).any()  # augmented copies differ from their sources
    again, _ = augment_to_n(images, labels, n_per_class=25, seed=0)
    assert np.array_equal(again, out_images)  # seeded


def test_one_vs_rest_is_balanced_with_short_classes_topped_up():
    labels = np.repeat(np.arange(7), [120, 40, 120, 150, 120, 120, 120])
    images = random_images(len(labels), seed=7)
    dataset = one_vs_rest(images, labels, "happy", n_positive=100, n_per_negative=20)
    assert dataset.emotion == "happy"
    assert np.bincount(dataset.labels).tolist() == [100, 100]
    short = one_vs_rest(images, labels, "disgust", n_positive=100, n_per_negative=20)
    assert np.bincount(short.labels).tolist() == [100, 100]  # 40 disgust images augmented to 100
    assert binary_labels([3, 1, 3, 0], "happy").tolist() == [1, 0, 1, 0]
    with pytest.raises(FERError, match="unknown emotion"):
        binary_labels(labels, "joy")


@pytest.mark.realdata
def test_real_fer2013_usage_split_removes_cross_split_copies(fer2013):
    parts = split(fer2013, "usage")
    assert len(parts.test) == 3589
    assert not occurs_in(parts.train.images, np.concatenate([parts.val.images, parts.test.images])).any()
    assert len(parts.train) < 28709
    assert EMOTIONS[int(np.argmax(np.bincount(parts.train.labels)))] == "happy"


def test_prepared_notes_name_each_cleaning_step_once(imbalanced):
    from fer_keras.data.eda import clean

    cleaned = clean(imbalanced, ["remove_duplicates", "drop_outlier_images"])
    notes = pre_proc_data(cleaned).notes
    assert len(notes) == len(set(notes)) == len(cleaned.notes) + 1
    assert notes[-1].startswith("honest protocol: split (usage) first")
