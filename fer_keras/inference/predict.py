"""Emotions of the faces in photos, folders, videos and webcams.

BlazeFace face detection (``fer_keras.data.faces``; Haar and MTCNN on request) → square crop → 48×48 grey → a trained
``.keras`` model, in batches. The Python call is as short as the ``fer`` package's::

    from fer_keras.inference.predict import EmotionRecognizer
    recognizer = EmotionRecognizer()            # the packaged FERNet-S; or EmotionRecognizer("best.keras")
    recognizer.detect_emotions(cv2.imread("photo.jpg"))
    # [{"box": [177, 66, 95, 95], "emotions": {"angry": 0.02, ..., "neutral": 0.11}}]
    recognizer.top_emotion("photo.jpg")                   # ("happy", 0.83), or (None, None)
    for index, frame, faces in recognizer.analyze_video("clip.mp4", every=5): ...

Command line: ``python -m fer_keras.predict photo.jpg folder/ clip.mp4`` (``--model best.keras`` for your own)
(see ``--help``). Only keras, numpy and OpenCV: any Keras backend works. Keras is imported
when a model is loaded, so ``--help`` and a mistyped ``--model`` answer at once.
"""

import csv
import json
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import ArgumentParser, EXIT_USER_ERROR, lazy_import, user_errors_exit
from fer_keras.constraints import check_options
from fer_keras.data.container import to_model_input
from fer_keras.data.decode import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, decode_image
from fer_keras.data.faces import (DEFAULT_DETECTOR, DETECTORS, crop_face, crop_settings, eye_angle, make_detector,
                                  read_image, to_grey)
from fer_keras.data.labelsets import LABEL_SETS, get_label_set
from fer_keras.errors import FERDataError, FERError
from fer_keras.inference.calibration import apply_class_bias, check_class_bias
from fer_keras.inference.video import draw_faces, iter_frames, open_video, read_video, video_fps, video_table
from fer_keras.models.tta import check_tta, tta_views
from fer_keras.runs.model_files import check_model, label_set_of, load_model

cv2 = lazy_import("cv2")

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
ALIGN = False
"""Whether :class:`EmotionRecognizer` turns crops so the eyes lie level, by default. Off: on realphoto_dev it cost
the shipped model 1.3 points with a 5-fold class bias (61.24 % / F1 0.450 against 62.54 % / 0.458) and ``fer``'s
classifier 0.2 (results/photos/fernet_s-blazeface-aligned-fit-class-bias-on-realphoto_dev); BlazeFace's eyes are
coarse (5° off on a turned test face), and the model has learnt tilted faces from FER2013 and its augmentation."""
PHOTO_TTA = "flip"
""":class:`EmotionRecognizer`'s test-time augmentation by default: each face and its mirror (2 classifications). Chosen
on realphoto_dev (thirteenth session, the shipped model, class bias 5-fold): at the crop the recognizer uses
(``CROPS``), 66.93 % / macro-F1 0.509 against 64.84 % / 0.492 for one view and 65.13 % / 0.494 for "crops" (10 views);
at the previous crop 64.49 / 62.52 / 64.35 %. ``fast=True`` keeps one view: it is the path for speed."""
MAX_PENDING_BYTES = 256 * 2**20
"""Frames held while a batch of faces fills up; a batch is classified earlier past this size."""


def to_probabilities(scores):
    """N×K model outputs → float64 rows summing to 1: softmax for logits (values outside [0, 1]),
    renormalised otherwise (softmax round-off, or one-vs-rest sigmoid scores)."""
    scores = np.asarray(scores, dtype=np.float64)
    logits = (scores < 0).any(axis=1) | (scores > 1).any(axis=1)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    scores = np.where(logits[:, None], shifted, np.clip(scores, 0, None))
    total = scores.sum(axis=1, keepdims=True)
    return np.divide(scores, total, out=np.full_like(scores, 1 / scores.shape[1]), where=total > 0)


def to_image(image):
    """A BGR (or grey) uint8 array from what ``fer`` users pass: an array, an image file path, a
    base64 data URI (``data:image/png;base64,…``), or an http(s) URL — fetched only because the
    caller passed one. FERDataError if it cannot be read."""
    if isinstance(image, np.ndarray):
        return image
    text = str(image)
    if text.startswith("data:"):
        import base64
        import binascii

        header, _, payload = text.partition(",")
        if ";base64" not in header:
            raise FERDataError("data URI: only base64 data URIs (data:image/…;base64,…) are accepted")
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise FERDataError("data URI: the base64 payload is malformed") from None
        return _decode(raw, "data URI")
    if text.startswith(("http://", "https://")):
        import http.client
        import urllib.request

        try:
            with urllib.request.urlopen(text, timeout=15) as response:  # noqa: S310 (the caller's URL)
                raw = response.read()
        except (OSError, ValueError, http.client.HTTPException) as err:
            raise FERDataError(f"{text}: could not be fetched ({err})") from None
        return _decode(raw, text)
    return read_image(image)


def check_box(box, shape):
    """``[x, y, w, h]`` as ints if it is four numbers with a positive size overlapping the image."""
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise FERDataError(f"face rectangle {box!r}: expected four numbers [x, y, w, h]") from None
    height, width = shape[:2]
    if w < 1 or h < 1 or x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise FERDataError(f"face rectangle {[x, y, w, h]}: needs a positive width and height inside the "
                           f"{width}×{height} image")
    return [x, y, w, h]


def _decode(raw, name):
    return decode_image(raw, name)


class EmotionRecognizer:
    """Faces → emotions, like ``fer.FER``: a face detector (BlazeFace), then a trained Keras model.

    model: a ``.keras`` path or a ``keras.Model`` taking 48×48×1 faces in [0, 1] to 7 scores;
    ``None`` (default) is the packaged FERNet-S (``fer_keras.models.pretrained``); with ``fast=True``, its
    int8 TFLite copy (4× less CPU per face, the same accuracy on FER2013; TensorFlow only), one view per face unless
    ``tta`` says otherwise (about 2 points below the flip default on realphoto_dev). A ``.tflite`` export
    (``python -m fer_keras.tflite``) is taken as a ``.keras`` file is.
    detector: "blazeface" (default, MediaPipe's BlazeFace; finds a face in 99 % of realphoto_dev's
    photos against Haar's 78 %), "haar" (OpenCV's cascade), "mtcnn" (``pip install fer_keras[mtcnn]``;
    slow) or any object whose ``detect(grey)`` returns ``[x, y, w, h]`` boxes.
    min_face, scale_factor, min_neighbors: the detector's settings (see ``fer_keras.data.faces``; the
    last two are Haar's).
    margin, shift: crop enlargement per side and downward shift, as fractions of the face box's
    longer side (the box reported is the detector's); ``None`` (default) is the detector's own
    setting, ``fer_keras.data.faces.CROPS`` (BlazeFace's was chosen on realphoto_dev; 0.1 and 0 for
    Haar and MTCNN). batch_size: faces per model call. tta: "none", "flip" (2 views) or "crops" (10
    views; see ``fer_keras.models.tta``) — 2× / 10× the classification time; ``None`` (default) is ``PHOTO_TTA``
    ("flip", chosen on realphoto_dev), or "none" with ``fast=True``.
    labels: the label set the model was trained on (``fer_keras.data.labelsets``; default: the one its run's
    ``config.json`` records, or FER2013's for seven outputs): its class names key ``emotions``.
    class_bias: a log-offset per class added to the model's log-probabilities before the answer
    (``fer_keras.inference.calibration``: photos' class frequencies are not FER2013's); "auto" (default) is
    the packaged model's, chosen on realphoto_dev (its card's ``photo_class_bias``), and none for any other
    model; ``None`` for none; or K numbers.
    align: turn each crop so the eyes lie level (``crop_face``'s ``angle``; off by default, see ``ALIGN``), with
    a detector that finds eyes (BlazeFace, MTCNN: ``detect_with_landmarks``); Haar's crops stay level. The
    reported box is the detector's either way.
    """

    def __init__(self, model=None, min_face=30, scale_factor=1.1, min_neighbors=5, margin=None, batch_size=64,
                 detector=None, tta=None, fast=False, labels=None, shift=None, class_bias="auto", align=ALIGN):
        self.tta = check_tta(("none" if fast else PHOTO_TTA) if tta is None else tta)
        packaged = model is None
        if model is None:
            from fer_keras.models.pretrained import default_model_path

            model = default_model_path(fast)
        elif fast:
            raise FERError("fast=True chooses the packaged model's int8 copy: pass it without a model")
        is_path = isinstance(model, (str, os.PathLike))
        self.model = check_model(load_model(model), name=str(model), outputs=None) if is_path else check_model(
            model, outputs=None)
        self.label_set = label_set_of(self.model, model if is_path else None, labels, option="--labels")
        self.class_names = self.label_set.classes
        self.class_bias = _class_bias(class_bias, packaged, len(self.class_names))
        if detector is None or isinstance(detector, str):
            detector = make_detector(detector or DEFAULT_DETECTOR, min_face, scale_factor, min_neighbors)
        self.detector = detector
        default_margin, default_shift = crop_settings(detector)
        self.margin = default_margin if margin is None else float(margin)
        self.shift = default_shift if shift is None else float(shift)
        self.batch_size = max(1, int(batch_size))
        if not isinstance(align, bool):
            raise FERError(f"align takes True or False, got {align!r}")
        self.align = align and hasattr(detector, "detect_with_landmarks")

    def find_faces(self, grey):
        """``[(box, angle)]`` for each face in an H×W uint8 grey image: the detector's ``[x, y, w, h]`` and
        its eye line's tilt in degrees (0 when not aligning), left to right."""
        if not self.align:
            return [(box, 0.0) for box in self.detector.detect(grey)]
        return [(box, eye_angle(keypoints)) for box, keypoints in self.detector.detect_with_landmarks(grey)]

    def crop(self, grey, face, size=IMAGE_SIZE):
        """The ``size``×``size`` uint8 crop of ``face`` (a ``(box, angle)`` of :meth:`find_faces`)."""
        box, angle = face
        return crop_face(grey, box, self.margin, size, self.shift, angle)

    def classify(self, faces):
        """uint8 N×48×48 grey faces → float64 N×K probabilities in ``class_names`` order (the class bias
        applied)."""
        return apply_class_bias(self.scores(faces), self.class_bias)

    def scores(self, faces):
        """The model's own probabilities (with the TTA, without the class bias) of uint8 N×48×48 faces."""
        faces = np.asarray(faces, dtype=np.uint8)
        if len(faces) == 0:
            return np.zeros((0, len(self.class_names)))
        # Every view in one stack, through predict_on_batch: predict()'s per-call set-up would cost a photo's one or
        # two faces ten times their classification.
        views = tta_views(to_model_input(faces), self.tta)  # one view with "none"
        stacked = np.concatenate(views)  # a contiguous copy: the mirrored views need no copy of their own
        step = self.batch_size * len(views)
        scores = np.concatenate([np.asarray(self.model.predict_on_batch(stacked[i:i + step]))
                                 for i in range(0, len(stacked), step)])
        return to_probabilities(scores.reshape(len(views), len(faces), -1).mean(axis=0))

    def analyze(self, frames):
        """For an iterable of ``(key, BGR or grey image)``, yield ``(key, image, faces)`` in order,
        classifying the faces of consecutive images together in batches."""
        pending, crops, held = [], [], 0
        for key, image in frames:
            grey = to_grey(image)
            found = self.find_faces(grey)
            crops.extend(self.crop(grey, face) for face in found)
            pending.append((key, image, [box for box, _ in found]))
            held += image.nbytes
            if len(crops) >= self.batch_size or len(pending) >= self.batch_size or held >= MAX_PENDING_BYTES:
                yield from self._flush(pending, crops)
                pending, crops, held = [], [], 0
        yield from self._flush(pending, crops)

    def _flush(self, pending, crops):
        probabilities = iter(self.classify(np.stack(crops)) if crops else ())
        for key, image, boxes in pending:
            faces = [{"box": box, "emotions": dict(zip(self.class_names, map(float, next(probabilities))))}
                     for box in boxes]
            yield key, image, faces

    def detect_emotions(self, image, face_rectangles=None):
        """``[{"box": [x, y, w, h], "emotions": {emotion: probability}}]`` for each face in a BGR
        (as ``cv2.imread`` gives) or grey uint8 image, an image file path, a base64 data URI or an
        http(s) URL (see :func:`to_image`). ``face_rectangles`` (``[[x, y, w, h], …]``) skips the
        detector and classifies those boxes, as ``fer``'s argument of the same name does (level crops: a box
        alone says nothing of the eyes)."""
        image = to_image(image)
        if face_rectangles is None:
            return next(self.analyze([(None, image)]))[2]
        grey = to_grey(image)
        boxes = [check_box(box, grey.shape) for box in face_rectangles]
        if not boxes:
            return []
        probabilities = self.classify(np.stack([self.crop(grey, (box, 0.0)) for box in boxes]))
        return [{"box": box, "emotions": dict(zip(self.class_names, map(float, p)))}
                for box, p in zip(boxes, probabilities)]

    def top_emotion(self, image):
        """``(emotion, probability)``: the top emotion of the largest face; ``(None, None)`` if
        there is no face."""
        faces = self.detect_emotions(image)
        if not faces:
            return None, None
        emotions = max(faces, key=lambda face: face["box"][2] * face["box"][3])["emotions"]
        emotion = max(emotions, key=emotions.get)
        return emotion, emotions[emotion]

    def analyze_video(self, source, every=1, max_frames=None):
        """Yield ``(frame_index, frame, faces)`` for every ``every``-th frame of a video file or a
        webcam index, ``faces`` shaped as in :meth:`detect_emotions`."""
        yield from self.analyze(read_video(source, every, max_frames))

    def video_table(self, source, every=1, max_frames=None, csv=None, annotated=None):
        """A video as a per-frame table (pandas), a per-video summary and, optionally, a CSV and an
        annotated copy: see :func:`fer_keras.inference.video.video_table`."""
        return video_table(self, source, every, max_frames, csv, annotated)


# ---- command line -------------------------------------------------------------------------


def _class_bias(class_bias, packaged, num_classes):
    """``EmotionRecognizer``'s ``class_bias`` resolved: "auto" → the packaged model's card's (or none)."""
    if isinstance(class_bias, str):
        if class_bias != "auto":
            raise FERError(f"class_bias must be 'auto', None or {num_classes} numbers, got {class_bias!r}")
        if not packaged:
            return None
        from fer_keras.models.pretrained import model_card

        class_bias = model_card().get("photo_class_bias")
    return None if class_bias is None else check_class_bias(class_bias, num_classes, "class_bias")


def expand_inputs(inputs, warn):
    """``(kind, source)`` per input: image / video files, folder contents (non-recursive, sorted)
    webcam indices and base64 data URIs (``("data", uri)``); missing paths and empty folders are
    warned about and yield ``("skip", …)``."""
    for arg in inputs:
        if arg.startswith("data:"):
            yield "data", arg
            continue
        path = Path(arg)
        try:
            path.stat()
        except OSError as err:  # missing, or a name the system refuses (too long, …)
            if not re.fullmatch(r"\d+", arg):
                reason = "no such file or folder" if isinstance(err, FileNotFoundError) else err.strerror or err
                warn(f"skipping {_short(arg)}: {reason}")
                yield "skip", arg
                continue
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file()
                           and p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
            if not files:
                warn(f"skipping {path}: no images or videos in this folder")
                yield "skip", arg
            for file in files:
                yield ("video" if file.suffix.lower() in VIDEO_SUFFIXES else "image"), file
        elif path.exists():
            yield ("video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"), path
        elif re.fullmatch(r"\d+", arg):
            yield "webcam", int(arg)
        else:
            warn(f"skipping {_short(arg)}: no such file or folder")
            yield "skip", arg


def _short(text, limit=80):
    """An input named in a message: one line, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Annotator:
    """Writes ``<stem>_annotated<ext>`` images and ``<stem>_annotated.mp4`` videos into a folder,
    each through a temporary name renamed into place when complete. The folder is checked at once and
    made with the first file: a run in which no input could be read creates nothing."""

    def __init__(self, out_dir, warn):
        from fer_keras.runs.folder import check_output_dir

        self.out_dir = Path(out_dir)
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise FERError(f"{self.out_dir}: exists and is not a folder; pass a folder for --annotate")
        check_output_dir(self.out_dir, "--annotate")
        self.warn, self.used, self.video = warn, set(), None
        self.written = []

    def _target(self, stem, suffix):
        self.out_dir.mkdir(parents=True, exist_ok=True)
        name, n = f"{stem}_annotated{suffix}", 1
        while name in self.used:
            name, n = f"{stem}_annotated-{n}{suffix}", n + 1
        self.used.add(name)
        return self.out_dir / name

    def image(self, source, image, faces):
        suffix = Path(source).suffix.lower()
        suffix = suffix if suffix in IMAGE_SUFFIXES else ".png"
        drawn = draw_faces(image, faces)
        ok, data = cv2.imencode(suffix, drawn)
        if not ok:
            suffix, (ok, data) = ".png", cv2.imencode(".png", drawn)
        target = self._target(Path(source).stem, suffix)
        tmp = target.with_name(f".{target.name}.partial")
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, target)
        self.written.append(target)

    def frame(self, source, fps, image, faces):
        if self.video is None:
            stem = f"webcam{source}" if isinstance(source, int) else Path(source).stem
            height, width = image.shape[:2]
            for suffix, codec in ((".mp4", "mp4v"), (".avi", "MJPG")):
                target = self._target(stem, suffix)
                tmp = target.with_name(f".{target.stem}.partial{suffix}")
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
                if writer.isOpened():
                    self.video = (writer, tmp, target)
                    break
                self.used.discard(target.name)
            else:
                self.warn(f"cannot write an annotated video for {source}: no working codec (mp4v, MJPG)")
                self.video = (None, None, None)
        writer = self.video[0]
        if writer is not None:
            writer.write(draw_faces(image, faces))

    def close_video(self):
        """Finish the video being written and move it into place."""
        if self.video is not None and self.video[0] is not None:
            writer, tmp, target = self.video
            writer.release()
            os.replace(tmp, target)
            self.written.append(target)
        self.video = None

    def discard_video(self):
        """Drop an unfinished video (after an error): no partial file is left behind."""
        if self.video is not None and self.video[0] is not None:
            writer, tmp, _ = self.video
            writer.release()
            tmp.unlink(missing_ok=True)
        self.video = None


class ResultWriter:
    """Streams face records to stdout as CSV (with header) or as one JSON list."""

    def __init__(self, fmt, stream, class_names):
        self.fmt, self.stream, self.count = fmt, stream, 0
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            self.csv.writerow(["source", "frame", "x", "y", "w", "h", "emotion", "score", *class_names])
        else:
            stream.write("[")

    def write(self, source, frame, face):
        emotions = {e: round(p, 6) for e, p in face["emotions"].items()}
        emotion = max(emotions, key=emotions.get)
        if self.fmt == "csv":
            self.csv.writerow([source, "" if frame is None else frame, *face["box"], emotion,
                               emotions[emotion], *emotions.values()])
        else:
            record = {"source": str(source), "frame": frame, "box": face["box"], "emotions": emotions,
                      "emotion": emotion, "score": emotions[emotion]}
            self.stream.write(("," if self.count else "") + "\n" + json.dumps(record))
        self.count += 1

    def close(self):
        if self.fmt == "json":
            self.stream.write("\n]\n" if self.count else "]\n")
        self.stream.flush()


class _StopOnInterrupt:
    """First Ctrl-C: stop reading new frames (what was read is still classified and written).
    Second Ctrl-C: abort."""

    def __init__(self):
        self.stop = False

    def __enter__(self):
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


def _frames(sources, args, stats, warn, interrupt):
    """``((input_number, kind, source, fps), frame_index), image`` for each image and analysed
    video frame of the readable inputs (a data URI is named ``data-uri-<input number>``); unreadable
    ones are warned about, counted as skipped and listed in ``stats["skipped_inputs"]``."""
    for number, (kind, source) in enumerate(sources):
        if interrupt.stop:
            return
        if kind == "skip":
            stats["skipped"] += 1
            stats.setdefault("skipped_inputs", []).append(_short(source))
            continue
        try:
            if kind == "image":
                yield ((number, kind, source, None), None), read_image(source)
                continue
            if kind == "data":
                yield ((number, "image", f"data-uri-{number + 1}", None), None), to_image(source)
                continue
            capture = open_video(source)
            item = (number, kind, source, video_fps(capture) / args.every)
            for index, frame in iter_frames(capture, args.every, args.max_frames, name=str(source)):
                yield (item, index), frame
                if interrupt.stop:
                    return
        except FERDataError as err:
            warn(f"skipping {err}")
            stats["skipped"] += 1
            name = f"data-uri-{number + 1}" if kind == "data" else _short(source)
            stats.setdefault("skipped_inputs", []).append(name)


def parse_args(argv):
    parser = ArgumentParser(
        prog="python -m fer_keras.predict",
        description="Find faces (BlazeFace, Haar cascade or MTCNN) in images, folders, videos or a webcam and "
        "classify their emotion with the packaged FERNet-S (or your own .keras model). Results go to stdout as CSV "
        "or JSON "
        "(one record per face); messages and a summary go to stderr.",
        epilog="INPUT is an image file, a folder (its images and videos, not recursive), a video "
        f"({', '.join(VIDEO_SUFFIXES)}), a webcam index such as 0, or a base64 data URI "
        "(data:image/png;base64,...). Images are checked before decoding (at most "
        f"{MAX_IMAGE_BYTES // 2**20} MiB and {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; "
        "empty, truncated and unsupported files are refused). Unreadable inputs are skipped with a warning and "
        "listed at the end; exit status 0 when at least one input was read, 2 when none could be. Ctrl-C stops "
        "reading and "
        "finishes what was read. Example: python -m fer_keras.predict --model best.keras "
        "photos/ clip.mp4 --format json --annotate annotated/ > faces.json",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image, folder, video or webcam index")
    parser.add_argument("--model", help="trained model, a .keras file or a .tflite export of one "
                        "(default: the packaged FERNet-S)")
    parser.add_argument("--labels", metavar="NAME",
                        help=f"the label set the model was trained on: {', '.join(LABEL_SETS)} (default: its run's "
                        "config.json, or fer2013 for seven outputs); its class names head the output")
    parser.add_argument("--fast", action="store_true",
                        help="the packaged FERNet-S's int8 TFLite copy: about 4x less CPU per face, the same accuracy "
                        "on FER2013 (68.96 vs 69.04 %% PrivateTest); one view per face unless --tta (about 2 points "
                        "below the flip default on real photos); TensorFlow only")
    parser.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="stdout format (default: %(default)s)")
    parser.add_argument("--annotate", metavar="OUT_DIR",
                        help="also write images / videos with boxes and labels into this folder")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector: blazeface (MediaPipe's BlazeFace: finds the most faces, fastest), haar "
                        "(OpenCV's cascade) or mtcnn (slow; pip install 'fer_keras[mtcnn]') (default: %(default)s)")
    parser.add_argument("--min-face", type=int, default=30,
                        help="smallest face side in pixels to detect (default: %(default)s)")
    parser.add_argument("--scale-factor", type=float, default=1.1,
                        help="Haar cascade pyramid step (default: %(default)s; 1.2 is about twice as fast, "
                        "may miss some faces)")
    parser.add_argument("--min-neighbors", type=int, default=5,
                        help="Haar cascade detections needed to keep a face; raise it against false faces "
                        "(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="faces per model call (default: %(default)s; 1 for live webcam output)")
    parser.add_argument("--tta", metavar="MODE",
                        help="test-time augmentation, none, flip or crops: average over the mirror (flip, 2×) or "
                        "5 shifts × mirror (crops, 10×) of each face (default: flip — 2 points more accurate on "
                        "real photos; none with --fast)")
    parser.add_argument("--every", type=int, default=1, help="analyse every N-th video frame (default: 1)")
    parser.add_argument("--max-frames", type=int,
                        help="read at most N frames of each video or webcam "
                        "(default: all; a webcam runs until Ctrl-C)")
    args = parser.parse_args(argv)
    check_options(args, ("scale_factor", "min_face", "min_neighbors", "batch_size", "every", "max_frames"))
    if args.tta is not None:
        check_tta(args.tta)
    if args.fast and args.model:
        parser.error("--fast chooses the packaged model's int8 copy: drop --model, or drop --fast")
    return args


@user_errors_exit
def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # our warnings replace FFmpeg's
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

    def warn(message):
        print(f"warning: {message}", file=sys.stderr, flush=True)

    if args.labels:
        get_label_set(args.labels)  # a wrong name fails before the model loads
    start = time.perf_counter()
    recognizer = EmotionRecognizer(args.model or None, min_face=args.min_face, scale_factor=args.scale_factor,
                                   min_neighbors=args.min_neighbors, batch_size=args.batch_size, tta=args.tta,
                                   detector=args.detector, fast=args.fast, labels=args.labels)
    annotator = Annotator(args.annotate, warn) if args.annotate else None
    loaded = time.perf_counter()
    stats, kinds = Counter(), Counter()
    out = ResultWriter(args.format, sys.stdout, recognizer.class_names)
    current = None  # [item, frames, faces] of the input being read

    def finish():
        (_, kind, source, _), frames, faces = current
        kinds[kind] += 1
        if not faces:
            stats["no_face"] += 1
            where = "" if kind == "image" else f" (in any of {frames} frame(s) analysed)"
            print(f"no face found in {source}{where}", file=sys.stderr, flush=True)
        if annotator and kind != "image":
            annotator.close_video()

    with _StopOnInterrupt() as interrupt:
        try:
            for (item, index), image, faces in recognizer.analyze(
                    _frames(expand_inputs(args.inputs, warn), args, stats, warn, interrupt)):
                if current is None or item != current[0]:
                    if current is not None:
                        finish()
                    current = [item, 0, 0]
                _, kind, source, fps = item
                current[1] += 1
                current[2] += len(faces)
                stats["frames" if kind != "image" else "images"] += 1
                stats["faces"] += len(faces)
                for face in faces:
                    out.write(source, index, face)
                if annotator and kind == "image":
                    annotator.image(source, image, faces)
                elif annotator:
                    annotator.frame(source, fps, image, faces)
            if current is not None:
                finish()
        finally:
            if annotator:
                annotator.discard_video()
    out.close()
    elapsed = time.perf_counter() - loaded
    for path in annotator.written if annotator else ():
        print(f"wrote {path}", file=sys.stderr)
    read = sum(kinds.values())
    rate = f"{stats['faces'] / elapsed:.1f} faces/s" + (
        f", {stats['frames'] / elapsed:.1f} video frames/s" if stats["frames"] else "")
    print(f"summary: {read} input(s) read ({kinds['image']} image(s), {kinds['video'] + kinds['webcam']} "
          f"video(s)/webcam(s) with {stats['frames']} frame(s) analysed), {stats['faces']} face(s) found, "
          f"{stats['no_face']} input(s) without a face, {stats['skipped']} skipped; {rate} "
          f"({elapsed:.2f} s, after {loaded - start:.2f} s loading the model)"
          + ("; stopped by Ctrl-C" if interrupt.stop else ""), file=sys.stderr)
    if stats["skipped"]:
        print(f"skipped {stats['skipped']} input(s): {', '.join(stats.get('skipped_inputs', []))}", file=sys.stderr)
    if not read:
        print("error: no input could be read", file=sys.stderr)
        return EXIT_USER_ERROR
    return 130 if interrupt.stop else 0
