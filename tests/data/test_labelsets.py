"""Label sets (FER2013, FER+, AffectNet, RAF-DB, CK+): names, cross-set matching, and each dataset's
loader on a tiny example written in its real layout."""

import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer_keras.data import load, write_csv
from fer_keras.data.container import make_fer_data
from fer_keras.errors import FERError
from fer_keras.data.labelsets import AFFECTNET, CKPLUS, FER2013, FERPLUS, LABEL_SETS, RAFDB, get_label_set, score_shared

from conftest import REPO, random_images

FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def test_label_sets_name_their_classes_in_each_datasets_own_order():
    assert list(LABEL_SETS) == ["fer2013", "ferplus", "affectnet", "rafdb", "ckplus"]
    assert [s.num_classes for s in LABEL_SETS.values()] == [7, 8, 8, 7, 7]
    assert FERPLUS.classes[7] == "contempt" and AFFECTNET.classes[:2] == ("neutral", "happy")
    assert RAFDB.label_of("5") == 4 and RAFDB.classes[4] == "sadness"  # RAF-DB numbers from 1
    assert AFFECTNET.label_of("6") == AFFECTNET.classes.index("anger") == 6
    assert CKPLUS.label_of("angry") == CKPLUS.label_of("anger") == 0 and "neutral" not in CKPLUS.canonical
    assert FER2013.label_of("contempt") is None
    with pytest.raises(FERError, match="unknown label set 'fer2014'; use one of fer2013, ferplus"):
        get_label_set("fer2014")


def test_scoring_a_ferplus_model_on_fer2013_keeps_the_seven_shared_classes_in_fer2013s_order():
    truth = np.array([0, 3, 6, 1])  # angry, happy, neutral, disgust
    scores = np.zeros((4, 8))
    scores[0, FERPLUS.classes.index("anger")] = 1
    scores[1, FERPLUS.classes.index("happiness")] = 1
    scores[2, FERPLUS.classes.index("contempt")] = 0.9  # contempt has no FER2013 counterpart: not a choice
    scores[2, FERPLUS.classes.index("neutral")] = 0.1
    scores[3, FERPLUS.classes.index("disgust")] = 1
    shared, mapped, keep, names = score_shared(scores, truth, FERPLUS, FER2013)
    assert names == FER2013.classes and keep.all()
    np.testing.assert_array_equal(shared.argmax(axis=1), mapped)
    np.testing.assert_array_equal(mapped, truth)


def test_scoring_a_ckplus_model_on_fer2013_drops_neutral_images_and_maps_by_canonical_name():
    truth = np.array([FER2013.label_of("neutral"), FER2013.label_of("happy"), FER2013.label_of("angry")])
    scores = np.eye(7)[[CKPLUS.label_of("happy"), CKPLUS.label_of("happy"), CKPLUS.label_of("anger")]]
    shared, mapped, keep, names = score_shared(scores, truth, CKPLUS, FER2013)
    assert names == ("angry", "disgust", "fear", "happy", "sad", "surprise")  # CK+ has no neutral
    np.testing.assert_array_equal(keep, [False, True, True])
    np.testing.assert_array_equal(mapped, [3, 0])
    np.testing.assert_array_equal(shared.argmax(axis=1), [3, 0])


# --------------------------------------------------------------------------- FER+


def fer2013_with_ferplus(root, votes, names=None, drop_row=False):
    """A 6-row fer2013.csv (all labelled angry) and its fer2013new.csv with ``votes`` per row."""
    data = make_fer_data(random_images(len(votes), seed=1), [0] * len(votes),
                         ["Training", "Training", "Training", "Training", "PublicTest", "PrivateTest"][:len(votes)])
    write_csv(data, root / "fer2013.csv")
    names = names or [f"fer{i:07d}.png" for i in range(len(votes))]
    rows = [f"{data.usage[i]},{names[i]},{','.join(map(str, v))}" for i, v in enumerate(votes)]
    (root / "fer2013new.csv").write_text("\n".join([FERPLUS_HEADER, *rows[:-1 if drop_row else None]]) + "\n")
    return data


#            neutral happy surprise sad anger disgust fear contempt unknown NF
VOTES = [[0, 10, 0, 0, 0, 0, 0, 0, 0, 0],   # happiness
         [4, 0, 0, 4, 1, 0, 0, 0, 1, 0],    # tie 4/4 (the single votes dropped): no majority
         [1, 0, 0, 0, 0, 0, 0, 6, 3, 0],    # contempt 6 of 9 after the outlier vote goes
         [0, 0, 0, 0, 0, 0, 0, 0, 2, 8],    # NF majority
         [0, 0, 3, 0, 0, 0, 0, 0, 7, 0],    # unknown majority
         [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]]   # no face (empty Image name)
NAMES = [f"fer{i:07d}.png" for i in range(5)] + [""]


def test_ferplus_majority_labels_drop_ties_unknown_nf_and_faceless_rows(tmp_path):
    fer2013_with_ferplus(tmp_path, VOTES, NAMES)
    data = load(tmp_path / "fer2013new.csv")  # detected from the file name
    assert data.label_set is FERPLUS and data.probabilities is None
    assert [FERPLUS.classes[k] for k in data.labels] == ["happiness", "contempt"]
    assert list(data.source_ids) == ["line 2", "line 4"] and list(data.usage) == ["Training", "Training"]
    assert "kept 2 of 6 rows (1 without a face; 3 without a strict majority" in data.notes[-1]
    assert data.counts().loc["total", "contempt"] == 1


def test_ferplus_probability_labels_are_the_vote_distribution(tmp_path):
    fer2013_with_ferplus(tmp_path, VOTES, NAMES)
    data = load(tmp_path, labels="ferplus", ferplus_mode="probability")
    assert list(data.source_ids) == ["line 2", "line 3", "line 4"]  # the tie stays, as a distribution
    np.testing.assert_allclose(data.probabilities[1], [0.5, 0, 0, 0.5, 0, 0, 0, 0])
    np.testing.assert_allclose(data.probabilities[2, FERPLUS.label_of("contempt")], 1.0)
    assert FERPLUS.classes[data.labels[0]] == "happiness"


def test_a_ferplus_file_whose_rows_do_not_match_fer2013_is_refused(tmp_path):
    fer2013_with_ferplus(tmp_path, VOTES, NAMES, drop_row=True)
    with pytest.raises(FERError, match=r"fer2013new.csv: 5 rows but .*fer2013.csv has 6; FER\+ labels fer2013.csv "
                       "row by row"):
        load(tmp_path / "fer2013new.csv")


# --------------------------------------------------------------------------- RAF-DB, AffectNet, CK+


def write_image(path, value, size=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size, size, 3), value, np.uint8))


@pytest.mark.parametrize("images_dir", ["aligned", "Image/aligned"])
def test_rafdb_reads_its_partition_file_and_aligned_images(tmp_path, images_dir):
    lines = {"train_00001.jpg": 5, "train_00002.jpg": 1, "test_0001.jpg": 7}
    (tmp_path / "EmoLabel").mkdir()
    (tmp_path / "EmoLabel" / "list_patition_label.txt").write_text(
        "".join(f"{name} {label}\n" for name, label in lines.items()))
    for i, name in enumerate(lines):
        write_image(tmp_path / images_dir / name.replace(".jpg", "_aligned.jpg"), 40 * i)
    data = load(tmp_path)  # detected from the partition file
    assert data.label_set is RAFDB and data.images.shape == (3, 48, 48)
    assert [RAFDB.classes[k] for k in data.labels] == ["sadness", "surprise", "neutral"]
    assert list(data.usage) == ["Training", "Training", "PrivateTest"]


@pytest.mark.parametrize("label_set, folders", [
    (AFFECTNET, {"train/0": 2, "train/7": 1, "val/contempt": 1}),   # AffectNet's numbers or names
    (CKPLUS, {"anger": 1, "contempt": 2, "surprise": 1}),             # no split folders
])
def test_affectnet_and_ckplus_read_image_folders_in_their_own_label_order(tmp_path, label_set, folders):
    for folder, n in folders.items():
        for i in range(n):
            write_image(tmp_path / folder / f"im{i}.png", 10 * i, size=64)
    data = load(tmp_path, labels=label_set.name)
    assert data.label_set is label_set and len(data) == 4
    counts = data.counts().loc["total"]
    if label_set is AFFECTNET:
        assert (counts["neutral"], counts["contempt"]) == (2, 2)
        assert sorted(set(data.usage)) == ["PublicTest", "Training"]
    else:
        assert (counts["anger"], counts["contempt"], counts["surprise"], counts["happy"]) == (1, 2, 1, 0)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fer_keras.data", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)


def test_data_info_prints_the_label_sets_class_names(tmp_path):
    fer2013_with_ferplus(tmp_path, VOTES, NAMES)
    done = run_cli("info", "--data", tmp_path / "fer2013new.csv")
    assert done.returncode == 0, done.stderr
    assert "contempt" in done.stdout and "happiness" in done.stdout and "label set: ferplus" in done.stdout


@pytest.mark.parametrize("make, args, message", [
    (lambda root: None, ["--labels", "affectnett"], "unknown label set 'affectnett'; use one of fer2013, ferplus"),
    (lambda root: fer2013_with_ferplus(root, VOTES, NAMES, drop_row=True), ["--labels", "ferplus"],
     "fer2013new.csv: 5 rows but"),
    (lambda root: write_image(root / "train" / "sleepy" / "a.png", 1), ["--labels", "ckplus"],
     "sleepy: unknown class folder for label set ckplus; expected one of 1 anger, 2 contempt"),
])
def test_bad_label_input_is_one_line_exit_2_and_writes_nothing(tmp_path, make, args, message):
    make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    done = run_cli("info", "--data", tmp_path / "fer2013new.csv" if "ferplus" in args else tmp_path, *args)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr, done.stderr
    assert sorted(tmp_path.rglob("*")) == before
