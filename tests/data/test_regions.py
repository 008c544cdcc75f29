"""Face regions and the region vote (Bakiasi & Muça 2024) on synthetic faces and fixed-output models."""

import keras
import numpy as np
import pytest

from fer_keras.data.synthetic import generate
from fer_keras.errors import FERError
from fer_keras.data.regions import GEOMETRIC_CENTRES, REGION_SIZES, REGIONS, VOTE_REGIONS, face_regions, region_boxes
from fer_keras.evaluation.region_vote import region_vote

LANDMARKS = {"left_eye": (12, 17), "right_eye": (35, 16), "nose": (23, 27), "mouth_left": (16, 38),
             "mouth_right": (30, 40)}


@pytest.fixture(scope="module")
def faces():
    return generate(n_samples=60, seed=3).data.images[:4]


def fixed_model(probabilities, name):
    """A model whose output is ``probabilities`` whatever the image (zero kernel, log-probability bias)."""
    logits = np.log(np.asarray(probabilities, dtype="float32"))
    return keras.Sequential([
        keras.Input((48, 48, 1)), keras.layers.Flatten(),
        keras.layers.Dense(len(logits), activation="softmax", kernel_initializer="zeros",
                           bias_initializer=keras.initializers.Constant(logits))], name=name)


def test_every_region_is_a_48x48_uint8_image_and_the_face_is_untouched(faces):
    face = faces[0].copy()
    for landmarks in (None, LANDMARKS):
        cut = face_regions(face, landmarks, VOTE_REGIONS)
        assert list(cut) == list(VOTE_REGIONS)
        assert all(image.shape == (48, 48) and image.dtype == np.uint8 for image in cut.values())
    np.testing.assert_array_equal(face, faces[0])
    np.testing.assert_array_equal(cut["whole"], face)
    assert list(face_regions(face)) == list(REGIONS)


def test_geometric_boxes_are_the_documented_ones():
    assert region_boxes() == {"left_eye": (5, 11, 25, 27), "right_eye": (23, 11, 43, 27), "nose": (16, 20, 32, 36),
                              "mouth": (12, 31, 36, 45)}
    for part, (x0, y0, x1, y1) in region_boxes().items():
        assert ((x0 + x1) / 2, (y0 + y1) / 2) == GEOMETRIC_CENTRES[part]


def test_landmark_boxes_are_centred_on_the_given_points():
    boxes = region_boxes(LANDMARKS)
    centres = {"left_eye": (12, 17), "right_eye": (35, 16), "nose": (23, 27), "mouth": (23, 39)}
    for part, (x0, y0, x1, y1) in boxes.items():
        assert (x1 - x0, y1 - y0) == REGION_SIZES[part]
        assert ((x0 + x1) / 2, (y0 + y1) / 2) == centres[part]
    for part, (x, y) in centres.items():  # a dot on the point lands in the middle of its 48×48 region
        dotted = np.zeros((48, 48), np.uint8)
        dotted[y, x] = 255
        region = face_regions(dotted, LANDMARKS, [part])[part]
        row, col = np.unravel_index(region.argmax(), region.shape)
        assert abs(row - 24) <= 3 and abs(col - 24) <= 3, part


def test_a_box_reaching_past_the_edge_stays_centred():
    at_corner = dict(LANDMARKS, left_eye=(2, 3))
    assert region_boxes(at_corner)["left_eye"] == (-8, -5, 12, 11)
    dotted = np.zeros((48, 48), np.uint8)
    dotted[3, 2] = 255
    region = face_regions(dotted, at_corner, ["left_eye"])["left_eye"]
    row, col = np.unravel_index(region.argmax(), region.shape)
    assert abs(row - 24) <= 3 and abs(col - 24) <= 3


def test_rest_blanks_the_four_parts_with_the_face_mean(faces):
    face = faces[1]
    rest = face_regions(face, regions=["rest"])["rest"]
    mean = np.uint8(np.rint(face.mean()))
    blanked = np.zeros((48, 48), bool)
    for x0, y0, x1, y1 in region_boxes().values():
        blanked[y0:y1, x0:x1] = True
    assert np.all(rest[blanked] == mean)
    np.testing.assert_array_equal(rest[~blanked], face[~blanked])


def test_two_of_three_agreeing_models_win_the_vote(faces):
    models = [fixed_model([0.1, 0.7, 0.2], "a"), fixed_model([0.6, 0.3, 0.1], "b"),
              fixed_model([0.2, 0.5, 0.3], "c")]
    vote = region_vote(models, faces)
    np.testing.assert_array_equal(vote.labels, [1, 1, 1, 1])
    np.testing.assert_array_equal(vote.votes, [[6, 12, 0]] * 4)  # 3 models × 6 regions
    np.testing.assert_allclose(vote.probabilities, [[0.3, 0.5, 0.2]] * 4, atol=1e-6)
    assert len(vote.members) == 18 and vote.members[0] == ("a", "left_eye") and vote.members[-1] == ("c", "whole")


def test_a_tie_is_broken_by_the_mean_probability(faces):
    first = fixed_model([0.5, 0.3, 0.2], "first")  # votes 0
    second = fixed_model([0.05, 0.6, 0.35], "second")  # votes 1; mean: class 0 0.275, class 1 0.45
    for models in ([first, second], [second, first]):
        vote = region_vote(models, faces, regions=["whole", "mouth"])
        np.testing.assert_array_equal(vote.votes, [[2, 2, 0]] * 4)
        np.testing.assert_array_equal(vote.labels, [1, 1, 1, 1])


def test_unknown_region_raises_one_line_naming_the_valid_ones(faces):
    with pytest.raises(FERError, match="unknown face region 'chin'; expected some of left_eye, right_eye, nose, "
                       "mouth, rest, whole") as err:
        face_regions(faces[0], regions=["mouth", "chin"])
    assert "\n" not in str(err.value)
    with pytest.raises(FERError, match="unknown face region 'forehead'"):
        region_vote([fixed_model([0.5, 0.5], "a")], faces, regions=("forehead",))


def test_models_with_different_class_counts_raise_one_line(faces):
    with pytest.raises(FERError, match="same number of classes .*got seven: 7, three: 3$") as err:
        region_vote([fixed_model(np.full(7, 1 / 7), "seven"), fixed_model([0.2, 0.3, 0.5], "three")], faces)
    assert "\n" not in str(err.value)


def test_bad_faces_and_landmarks_raise_fer_error(faces):
    model = fixed_model([0.5, 0.5], "a")
    with pytest.raises(FERError, match="uint8"):
        region_vote([model], faces.astype(np.float32) / 255)
    with pytest.raises(FERError, match="landmarks lack mouth_left, mouth_right"):
        face_regions(faces[0], {"left_eye": (1, 1), "right_eye": (2, 2), "nose": (3, 3)})
    with pytest.raises(FERError, match="landmarks lack nose;"):  # BlazeFace's one mouth point, no nose
        face_regions(faces[0], {"left_eye": (1, 1), "right_eye": (2, 2), "mouth": (24, 38)})
    with pytest.raises(FERError, match="landmark nose must be an"):
        face_regions(faces[0], dict(LANDMARKS, nose=(60, 10)))
    with pytest.raises(FERError, match="1 landmark dicts for 4 faces"):
        region_vote([model], faces, landmarks=[LANDMARKS])


@pytest.mark.parametrize("region", VOTE_REGIONS)
def test_a_model_cuts_its_region_as_face_regions_does(faces, region):
    from fer_keras.models.layers import FaceRegion

    inside = np.asarray(FaceRegion(region)(faces[..., None].astype("float32")))[..., 0]
    outside = np.stack([face_regions(face, regions=(region,))[region] for face in faces]).astype("float32")
    assert inside.shape == outside.shape == (len(faces), 48, 48)
    assert np.abs(inside - outside).mean() < 1.0  # grey levels: bilinear in the graph vs OpenCV's


def test_a_region_model_takes_whole_faces_keeps_its_parameters_and_loads_in_safe_mode(faces, tmp_path):
    from fer_keras.models import build_model
    from fer_keras.models.registry import model_overrides
    from fer_keras.runs.model_files import load_model

    assert model_overrides("baseline_cnn", ["model.region=mouth"]) == {"region": "mouth"}
    model = build_model("baseline_cnn", region="mouth")
    assert model.input_shape == (None, 48, 48, 1) and model.count_params() == build_model("baseline_cnn").count_params()
    model.save(tmp_path / "mouth.keras")
    x = faces[..., None].astype("float32") / 255
    assert np.allclose(load_model(tmp_path / "mouth.keras").predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(FERError, match="unknown face region 'ear'"):
        build_model("baseline_cnn", region="ear")


def test_blazeface_s_one_mouth_point_centres_the_mouth_box():
    """BlazeFace gives one mouth point where MTCNN gives two corners: the mouth box is centred on it."""
    from fer_keras.data.faces import BLAZEFACE_KEYPOINTS
    from fer_keras.data.regions import region_centres

    blazeface = {key: (20.0 + i, 20.0) for i, key in enumerate(BLAZEFACE_KEYPOINTS)}
    blazeface["mouth"] = (25.0, 37.0)
    assert region_centres(blazeface) == {"left_eye": (20.0, 20.0), "right_eye": (21.0, 20.0), "nose": (22.0, 20.0),
                                         "mouth": (25.0, 37.0)}
    assert region_centres(LANDMARKS)["mouth"] == region_centres(dict(LANDMARKS, mouth=(0, 0)))["mouth"]  # corners win
