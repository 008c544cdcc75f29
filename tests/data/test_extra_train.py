"""--extra-train: faces from a photo folder join the training split only, test copies refused."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as samples

from fer_keras import EMOTIONS
from fer_keras.data.extra import add_extra_faces, read_extra_faces
from fer_keras.data.hashing import occurs_in
from fer_keras.data.synthetic import generate
from fer_keras.data.faces import FaceDetector, crop_face, on_canvas, to_grey
from fer_keras.data.pre_proc_data import pre_proc_data

from conftest import REPO

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)

PLANTED = {"happy": 3, "sad": 2, "surprise": 2}
"""Synthetic faces per emotion folder that the Haar cascade finds, rendered 4× on a 320-px canvas."""


@pytest.fixture(scope="module")
def dataset():
    return generate(n_samples=300, seed=5).data


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory, dataset):
    """``<emotion>/*.png`` photos of synthetic faces the detector finds, a blank photo (no face) and
    a PNG copy of a test image (which the detector may or may not take for a face)."""
    root = tmp_path_factory.mktemp("extra")
    pool, detector = generate(n_samples=200, seed=11).data, FaceDetector()
    for emotion, wanted in PLANTED.items():
        (root / emotion).mkdir()
        found = 0
        for i in np.flatnonzero(pool.labels == EMOTIONS.index(emotion)):
            photo = on_canvas(pool.images[i])
            if found < wanted and detector.detect(photo):  # the cascade finds most synthetic faces
                cv2.imwrite(str(root / emotion / f"face{i}.png"), photo)
                found += 1
        assert found == wanted, f"only {found} {emotion} faces found by the Haar cascade"
    cv2.imwrite(str(root / "happy" / "blank.png"), np.full((320, 320), 128, np.uint8))
    test_image = dataset.images[dataset.usage == "PrivateTest"][0]
    cv2.imwrite(str(root / "sad" / "copy_of_a_test_image.png"), test_image)
    return root


def test_extra_faces_join_only_the_training_split_and_test_copies_are_refused(dataset, face_folder):
    extra = read_extra_faces(face_folder)
    plain = pre_proc_data(dataset)
    prepared = pre_proc_data(dataset, extra_train=extra)
    assert prepared.extra == {
        "source": str(face_folder), "detector": "haar", "images": 9, "unreadable": 0, "test_copies": 1, "no_face": 1,
        "over_per_class": 0, "per_class": None, "added": 7,
        "added_per_class": {e: PLANTED.get(e, 0) for e in EMOTIONS}}
    assert len(prepared.x_train) == len(plain.x_train) + 7
    np.testing.assert_array_equal(prepared.x_val, plain.x_val)  # validation and test untouched
    np.testing.assert_array_equal(prepared.x_test, plain.x_test)
    np.testing.assert_array_equal(np.bincount(prepared.labels_train, minlength=7) - np.bincount(plain.labels_train),
                                  [PLANTED.get(e, 0) for e in EMOTIONS])
    added = extra.faces[extra.found & ~occurs_in(extra.images, dataset.images)]
    train_images = np.rint(prepared.x_train[..., 0] * 255).astype(np.uint8)
    assert len(added) == 7 and occurs_in(added, train_images).all()
    copy = extra.images[[str(p).endswith("copy_of_a_test_image.png") for p in extra.paths]]
    assert not occurs_in(copy, train_images).any()  # the test image stays out of training


def test_extra_per_class_caps_each_emotion(dataset, face_folder):
    parts_train = dataset.split("Training")
    held_out = dataset.images[dataset.usage != "Training"]
    merged, counts = add_extra_faces(parts_train, read_extra_faces(face_folder), held_out, per_class=1)
    assert counts["added_per_class"] == {e: int(e in PLANTED) for e in EMOTIONS}
    assert (counts["added"], counts["over_per_class"]) == (3, 4)
    assert len(merged) == len(parts_train) + 3 and (merged.usage == "Training").all()


def test_extra_faces_are_cropped_as_predict_crops_them(tmp_path):
    photo = cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR)
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "astronaut.png"), photo)
    extra = read_extra_faces(tmp_path)
    grey = to_grey(photo)
    (box,) = FaceDetector().detect(grey)
    assert extra.found.tolist() == [True] and extra.labels.tolist() == [EMOTIONS.index("happy")]
    np.testing.assert_array_equal(extra.faces[0], crop_face(grey, box))
    cropped = read_extra_faces(tmp_path, detect=False)  # already-cropped faces: the whole photo at 48×48
    np.testing.assert_array_equal(cropped.faces[0], cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA))


def test_a_run_records_the_extra_counts_in_its_config(tmp_path, dataset, face_folder):
    from fer_keras.data.io import write_csv
    from fer_keras.training.train import train

    csv = write_csv(dataset, tmp_path / "tiny.csv")
    train("baseline_cnn", csv, epochs=1, output_dir=tmp_path / "callbacks", results_dir=tmp_path / "results",
          verbose=0, extra_train=face_folder, extra_per_class=2)
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["extra_train"]["added_per_class"] == {e: min(PLANTED.get(e, 0), 2) for e in EMOTIONS}
    assert (config["extra_train"]["test_copies"], config["extra_train"]["no_face"]) == (1, 1)
    assert any(note.startswith("extra training faces from") for note in config["prepared"]["notes"])


@pytest.mark.parametrize("make, extra_args, message", [
    (lambda root: None, [], "missing: no such folder; give a folder of emotion folders"),
    (lambda root: root.mkdir(), [], "extra: no images found; put the faces in ROOT/<emotion>/"),
    (lambda root: (root / "joy").mkdir(parents=True), [], "joy: 'joy' is not an emotion; rename the folder"),
    (lambda root: ((root / "sad").mkdir(parents=True), (root / "sad" / "bad.png").write_bytes(b"not an image")), [],
     "bad.png: not a readable image (corrupt or unsupported format); replace or delete it"),
    (lambda root: None, ["--extra-per-class", "0"], "--extra-per-class must be a whole number in [1, 100000], got 0"),
])
def test_bad_extra_folders_exit_2_and_write_nothing(tmp_path, make, extra_args, message):
    root = tmp_path / ("missing" if "missing" in message else "extra")
    make(root)
    result = subprocess.run([sys.executable, "-m", "fer_keras.train", "--extra-train", str(root), *extra_args],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-1500:]
    assert message in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()


def test_extra_faces_are_refused_for_data_of_another_label_set():
    """The emotion folders name FER2013's classes; AffectNet's numbering would mislabel them."""
    from fer_keras.data.container import make_fer_data
    from fer_keras.errors import FERError
    from fer_keras.data.labelsets import get_label_set
    from fer_keras.training.train import prepare
    from fer_keras.training.variants import get_variant

    data = generate(n_samples=80, seed=1).data
    affectnet = make_fer_data(data.images, data.labels, data.usage, label_set=get_label_set("affectnet"))
    with pytest.raises(FERError, match="--extra-train folders name FER2013's seven emotions"):
        prepare(get_variant("fernet_t"), affectnet, 0, None, object(), None)
