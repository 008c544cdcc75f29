"""Face detection → emotion on real photos and video: API, CLI, bad inputs."""

import importlib.util
import json
import subprocess
import sys

import cv2
import keras
import numpy as np
import pandas as pd
import pytest
from skimage import data as samples

from fer_keras import EMOTIONS
from fer_keras.errors import FERError
from fer_keras.inference.predict import EmotionRecognizer, main, to_probabilities

ASTRONAUT_BOX = (176, 75, 98, 98)  # the default detector's (BlazeFace's) one face in skimage's astronaut
HAAR_ASTRONAUT_BOX = (177, 66, 95, 95)  # DESIGN §5: the Haar cascade's


def write_video(folder, image, n_frames, shift=0):
    """``n_frames`` copies of ``image`` (shifted by ``shift`` px per frame, cyclically) as .mp4
    (mp4v) or, where that codec is missing, .avi (MJPG)."""
    height, width = image.shape[:2]
    for name, codec in (("clip.mp4", "mp4v"), ("clip.avi", "MJPG")):
        path = folder / name
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 25, (width, height))
        if writer.isOpened():
            for i in range(n_frames):
                writer.write(np.roll(image, (i % 5) * shift, axis=1))
            writer.release()
            if cv2.VideoCapture(str(path)).read()[0]:
                return path
    pytest.skip("OpenCV here can write neither mp4v nor MJPG video")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict")
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(EMOTIONS), activation="softmax")(x)
    keras.Model(inputs, outputs).save(folder / "tiny.keras")
    astronaut = cv2.cvtColor(samples.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "astronaut.png"), astronaut)
    cv2.imwrite(str(folder / "coffee.jpg"), cv2.cvtColor(samples.coffee(), cv2.COLOR_RGB2BGR))
    (folder / "corrupt.png").write_bytes(np.random.default_rng(0).bytes(3000))
    (folder / "zero.mp4").write_bytes(b"")
    return {"dir": folder, "model": folder / "tiny.keras", "astronaut": folder / "astronaut.png",
            "coffee": folder / "coffee.jpg", "corrupt": folder / "corrupt.png", "zero": folder / "zero.mp4",
            "missing": folder / "missing.png", "video": write_video(folder, astronaut, 10, shift=1),
            "image": astronaut}


@pytest.fixture(scope="module")
def recognizer(files):
    return EmotionRecognizer(files["model"])


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fer_keras.predict", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def assert_probabilities(emotions):
    assert list(emotions) == list(EMOTIONS)
    assert sum(emotions.values()) == pytest.approx(1, abs=1e-5)
    assert all(0 <= p <= 1 for p in emotions.values())


def test_detect_emotions_finds_the_astronaut_face(recognizer, files):
    faces = recognizer.detect_emotions(files["image"])
    assert len(faces) == 1
    assert np.allclose(faces[0]["box"], ASTRONAUT_BOX, atol=5), faces[0]["box"]
    assert_probabilities(faces[0]["emotions"])
    assert recognizer.detect_emotions(files["astronaut"]) == faces  # a path works the same


def test_top_emotion_is_none_without_a_face(recognizer, files):
    emotion, score = recognizer.top_emotion(files["image"])
    emotions = recognizer.detect_emotions(files["image"])[0]["emotions"]
    assert emotion in EMOTIONS and score == max(emotions.values()) == emotions[emotion]
    assert recognizer.top_emotion(files["coffee"]) == (None, None)
    assert recognizer.top_emotion(np.full((240, 320, 3), 128, np.uint8)) == (None, None)


def test_analyze_video_gives_one_result_per_frame(recognizer, files):
    results = list(recognizer.analyze_video(files["video"]))
    assert [index for index, _, _ in results] == list(range(10))
    assert all(len(faces) == 1 for _, _, faces in results)
    assert [index for index, _, _ in recognizer.analyze_video(files["video"], every=3)] == [0, 3, 6, 9]


def test_detect_emotions_takes_a_base64_data_uri_and_precomputed_face_rectangles(recognizer, files):
    import base64

    faces = recognizer.detect_emotions(files["image"])
    uri = "data:image/png;base64," + base64.b64encode(files["astronaut"].read_bytes()).decode()
    assert recognizer.detect_emotions(uri) == faces
    given = recognizer.detect_emotions(files["image"], face_rectangles=[faces[0]["box"], [10, 10, 60, 60]])
    assert [face["box"] for face in given] == [faces[0]["box"], [10, 10, 60, 60]]
    np.testing.assert_allclose(list(given[0]["emotions"].values()), list(faces[0]["emotions"].values()), atol=1e-6)
    assert recognizer.detect_emotions(files["image"], face_rectangles=[]) == []
    with pytest.raises(FERError, match="base64 payload is malformed"):
        recognizer.detect_emotions("data:image/png;base64,@@@")
    for box in ([1, 2, 3], [10, 10, 0, 20], [5000, 10, 20, 20], ["a", 1, 2, 3]):
        with pytest.raises(FERError, match="face rectangle"):
            recognizer.detect_emotions(files["image"], face_rectangles=[box])


def test_detect_emotions_fetches_an_http_url_only_when_given_one(recognizer, files):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(files["dir"]))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/astronaut.png"
        assert recognizer.detect_emotions(url) == recognizer.detect_emotions(files["image"])
        with pytest.raises(FERError, match="could not be fetched"):
            recognizer.detect_emotions(url.replace("astronaut.png", "missing.png"))
    finally:
        server.shutdown()


def test_video_table_has_a_row_per_face_a_summary_a_csv_and_an_annotated_copy(recognizer, files, tmp_path):
    from fer_keras.inference.video import COLUMNS

    table, summary = recognizer.video_table(files["video"], every=2, csv=tmp_path / "faces.csv",
                                            annotated=tmp_path / "annotated.mp4")
    assert list(table.columns) == COLUMNS and table["frame"].tolist() == [0, 2, 4, 6, 8]
    np.testing.assert_allclose(table[list(EMOTIONS)].sum(axis=1), 1, atol=1e-5)
    assert (table["time_s"] == table["frame"] / summary["fps"]).all()
    assert summary["frames_analysed"] == 5 and summary["frames_with_face"] == 5 and summary["faces"] == 5
    assert sum(summary["emotion_share"].values()) == pytest.approx(1) and summary["faces_per_s"] > 0
    assert len(pd.read_csv(tmp_path / "faces.csv")) == 5
    capture = cv2.VideoCapture(str(tmp_path / "annotated.mp4"))
    assert capture.read()[0] and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_recognizer_rejects_a_model_with_the_wrong_input_shape():
    inputs = keras.Input((64, 64, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(FERError, match=r"takes input \(64, 64, 1\)"):
        EmotionRecognizer(model)


def test_to_probabilities_softmaxes_logits_and_renormalises_scores():
    probabilities = to_probabilities(np.array([[2.0, -1, 0, 0, 0, 0, 0], [0.5, 0.5, 0, 0, 0, 0, 0]]))
    assert np.allclose(probabilities.sum(axis=1), 1)
    assert probabilities[0].argmax() == 0 and np.allclose(probabilities[1, :2], 0.5)


@pytest.fixture(scope="module")
def mixed_run(files):
    """One CLI run over good, faceless and unreadable inputs, JSON out, annotated copies written."""
    out = files["dir"] / "annotated"
    result = run_cli("--model", files["model"], files["astronaut"], files["video"], files["coffee"],
                     files["missing"], files["corrupt"], files["zero"], "--format", "json", "--annotate", out)
    return result, out


@pytest.mark.slow
def test_cli_json_has_one_record_per_face_and_frame(mixed_run, files):
    result, _ = mixed_run
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert [(r["source"], r["frame"]) for r in records] == (
        [(str(files["astronaut"]), None)] + [(str(files["video"]), i) for i in range(10)])
    assert np.allclose(records[0]["box"], ASTRONAUT_BOX, atol=5)
    for record in records:
        assert_probabilities(record["emotions"])
        assert record["emotion"] == max(record["emotions"], key=record["emotions"].get)
        assert record["score"] == record["emotions"][record["emotion"]]


def test_cli_reports_faceless_and_skipped_inputs_on_stderr(mixed_run, files):
    result, _ = mixed_run
    assert f"no face found in {files['coffee']}\n" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: skipping")]
    assert len(warnings) == 3
    for name in ("missing", "corrupt", "zero"):
        assert sum(str(files[name]) in line for line in warnings) == 1
    summary = [line for line in result.stderr.splitlines() if line.startswith("summary:")]
    assert len(summary) == 1
    assert "3 input(s) read" in summary[0] and "11 face(s) found" in summary[0]
    assert "1 input(s) without a face" in summary[0] and "3 skipped" in summary[0] and "faces/s" in summary[0]


def test_cli_writes_annotated_copies_atomically(mixed_run, files):
    _, out = mixed_run
    names = sorted(p.name for p in out.iterdir())  # and no ".partial" temporary left
    assert names == ["astronaut_annotated.png", "clip_annotated.mp4", "coffee_annotated.jpg"]
    annotated = cv2.imread(str(out / "astronaut_annotated.png"))
    assert annotated.shape == files["image"].shape and not np.array_equal(annotated, files["image"])
    capture = cv2.VideoCapture(str(out / "clip_annotated.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 10


def test_cli_csv_has_a_header_and_one_row_per_face(files, capsys):
    assert main(["--model", str(files["model"]), str(files["astronaut"]), "--format", "csv"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split(",") == ["source", "frame", "x", "y", "w", "h", "emotion", "score", *EMOTIONS]
    assert len(rows) == 1
    cells = rows[0].split(",")
    assert cells[1] == "" and sum(map(float, cells[8:])) == pytest.approx(1, abs=1e-5)


def test_cli_exits_2_when_no_input_is_readable(files, capsys, tmp_path):
    code = main(["--model", str(files["model"]), *(str(files[n]) for n in ("missing", "corrupt", "zero")),
                 "--annotate", str(tmp_path / "annotated")])
    captured = capsys.readouterr()
    assert code == 2 and not (tmp_path / "annotated").exists()  # nothing written: the folder comes with a file
    assert captured.err.count("warning: skipping") == 3 and "no input could be read" in captured.err
    assert captured.out.splitlines() == [",".join(["source", "frame", "x", "y", "w", "h", "emotion", "score",
                                                   *EMOTIONS])]


def test_cli_missing_model_is_one_line_and_exit_2(files):
    result = run_cli("--model", files["dir"] / "nope.keras", files["astronaut"])
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: model file not found: {files['dir'] / 'nope.keras'}"]


def test_cli_corrupt_model_is_a_user_error(files, capsys):
    (files["dir"] / "corrupt.keras").write_bytes(b"not a zip")
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(files["dir"] / "corrupt.keras"), str(files["astronaut"])])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: could not load model")


def tilted(image, degrees):
    """``image`` rotated by ``degrees`` about the astronaut's face (edges repeated)."""
    turn = cv2.getRotationMatrix2D((223, 118), degrees, 1.0)
    return cv2.warpAffine(image, turn, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_mtcnn_finds_tilted_faces_the_haar_cascade_misses(files):
    pytest.importorskip("mtcnn")
    from fer_keras.data.faces import FaceDetector, MTCNNDetector, to_grey

    haar, mtcnn = FaceDetector(), MTCNNDetector()
    grey = to_grey(files["image"])
    for degrees in (25, 30):
        assert haar.detect(tilted(grey, degrees)) == []
        (box,) = mtcnn.detect(tilted(grey, degrees))
        assert abs(box[0] + box[2] / 2 - 223) < 15 and abs(box[1] + box[3] / 2 - 118) < 15, box
    ((box, keypoints),) = mtcnn.detect_with_landmarks(grey)
    assert sorted(keypoints) == ["left_eye", "mouth_left", "mouth_right", "nose", "right_eye"]
    assert keypoints["left_eye"][1] < keypoints["nose"][1] < keypoints["mouth_left"][1]
    assert mtcnn.detect(to_grey(cv2.cvtColor(samples.coffee(), cv2.COLOR_RGB2BGR))) == []


def test_recognizer_takes_the_detector_by_name(files):
    pytest.importorskip("mtcnn")
    faces = EmotionRecognizer(files["model"], detector="mtcnn").detect_emotions(tilted(files["image"], 30))
    assert len(faces) == 1
    assert_probabilities(faces[0]["emotions"])
    with pytest.raises(FERError, match="unknown face detector 'yunet'; expected one of haar, mtcnn"):
        EmotionRecognizer(files["model"], detector="yunet")


def test_a_missing_mtcnn_package_is_one_line(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "mtcnn", None)
    with pytest.raises(FERError, match=r"pip install 'fer_keras\[mtcnn\]'"):
        EmotionRecognizer(files["model"], detector="mtcnn")


def test_cli_detector_option(files, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--detector", "yunet", str(files["astronaut"])])
    assert exit_.value.code == 2
    assert "argument --detector: invalid choice: 'yunet'" in capsys.readouterr().err
    if importlib.util.find_spec("mtcnn") is None:
        pytest.skip("mtcnn is not installed")
    assert main(["--model", str(files["model"]), "--detector", "mtcnn", "--format", "json",
                 str(files["astronaut"])]) == 0
    (face,) = json.loads(capsys.readouterr().out)
    assert abs(face["box"][0] - HAAR_ASTRONAUT_BOX[0]) < 10


def test_detection_recall_counts_the_known_faces_each_detector_finds(files):
    from fer_keras.data.faces import crop_face, detection_recall, to_grey

    face = crop_face(to_grey(files["image"]), HAAR_ASTRONAUT_BOX, margin=0.2)
    blank = np.full_like(face, 128)
    detectors = ["haar"] + (["mtcnn"] if importlib.util.find_spec("mtcnn") else [])
    found = detection_recall(np.stack([face, blank]), detectors)
    assert all(result["found"] == 0.5 and result["cpu_ms_per_image"] > 0 for result in found.values()), found
    with pytest.raises(FERError, match="does not fit the 100-px canvas"):
        detection_recall([face], ["haar"], canvas=100)


@pytest.mark.parametrize("argv, message", [
    (["--n", "0"], "error: --n must be at least 1, got 0"),
    (["--data", "missing.csv"], "missing.csv"),
])
def test_detector_recall_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    from fer_keras.data.faces import main as faces_main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        faces_main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(err.splitlines()) == 1 and message in err
    assert list(tmp_path.iterdir()) == []


def test_cli_fast_with_a_model_is_refused_before_anything_runs(files, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--fast", "--model", str(files["model"]), str(files["astronaut"])])
    assert exit_.value.code == 2
    assert "--fast chooses the packaged model's int8 copy" in capsys.readouterr().err


def test_the_default_detector_is_blazeface_and_haar_stays_an_option(files):
    from fer_keras.data.faces import CROPS, DEFAULT_DETECTOR, BlazeFaceDetector, FaceDetector

    default = EmotionRecognizer(files["model"])
    assert DEFAULT_DETECTOR == "blazeface" and isinstance(default.detector, BlazeFaceDetector)
    assert (default.margin, default.shift) == CROPS["blazeface"]
    haar = EmotionRecognizer(files["model"], detector="haar")
    assert isinstance(haar.detector, FaceDetector) and (haar.margin, haar.shift) == (0.1, 0.0)
    (face,) = haar.detect_emotions(files["image"])
    assert np.allclose(face["box"], HAAR_ASTRONAUT_BOX, atol=5), face["box"]
    assert EmotionRecognizer(files["model"], margin=0.3, shift=0.05).margin == 0.3


def test_the_default_recognizer_averages_each_face_with_its_mirror(files):
    from fer_keras.inference.predict import PHOTO_TTA, to_probabilities

    default, one_view = EmotionRecognizer(files["model"]), EmotionRecognizer(files["model"], tta="none")
    assert PHOTO_TTA == "flip" and default.tta == "flip" and one_view.tta == "none"
    faces = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    mirrored = one_view.scores(faces[:, :, ::-1])
    assert np.allclose(default.scores(faces), (one_view.scores(faces) + mirrored) / 2, atol=1e-6)
    assert not np.allclose(default.scores(faces), one_view.scores(faces), atol=1e-4)  # the mirror counts
    assert np.allclose(to_probabilities(default.scores(faces)).sum(axis=1), 1)
    small_batches = EmotionRecognizer(files["model"], batch_size=2, tta="crops")  # 5 faces × 10 views in 3 calls
    singly = [EmotionRecognizer(files["model"], tta="crops").scores(face[None]) for face in faces]
    assert np.allclose(small_batches.scores(faces), np.concatenate(singly), atol=1e-6)


def test_blazeface_second_pass_finds_a_face_that_fills_the_photo(files):
    from fer_keras.data.faces import BlazeFaceDetector, to_grey

    grey = to_grey(files["image"])
    x, y, w, h = ASTRONAUT_BOX
    close_up = grey[y + 10:y + h - 5, x + 5:x + w - 5]  # the face alone, cut inside its box
    assert BlazeFaceDetector(pad=0).detect(close_up) == []
    (box,) = BlazeFaceDetector().detect(close_up)
    assert box[0] >= 0 and box[1] >= 0 and box[0] + box[2] <= close_up.shape[1] and box[1] + box[3] <= close_up.shape[0]
    assert BlazeFaceDetector().detect(np.full((240, 320), 128, np.uint8)) == []
