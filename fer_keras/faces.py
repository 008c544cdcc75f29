"""Face detection and cropping: a face detector → square crops → 48×48 grey faces.

Two detectors, both offline:

* ``"haar"`` (default): OpenCV's frontal-face Haar cascade, which ships inside the
  ``opencv-python(-headless)`` 4.x wheels (``cv2.data.haarcascades``); OpenCV 5 dropped it, hence
  the ``<5`` pin. On scikit-image's ``astronaut`` sample it finds one face at ``[177, 66, 95, 95]``.
* ``"mtcnn"``: the MTCNN cascade of CNNs (Zhang et al. 2016) from the ``mtcnn`` package, whose
  weights ship inside its wheel (``pip install fer_keras[mtcnn]``); the detector ``fer`` offers
  besides Haar. It also finds faces turned or tilted away from the camera, and gives five
  landmarks (eyes, nose, mouth corners). TensorFlow only (the package is written for it).
"""

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import import_keras_quietly, user_errors_exit
from fer_keras.errors import FERError

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


DETECTORS = ("haar", "mtcnn")


def make_detector(name="haar", min_face=30, scale_factor=1.1, min_neighbors=5):
    """The detector called ``name`` ("haar" or "mtcnn"); the Haar settings are ignored by MTCNN."""
    if name == "haar":
        return FaceDetector(scale_factor, min_neighbors, min_face)
    if name == "mtcnn":
        return MTCNNDetector(min_face)
    raise FERError(f"unknown face detector {name!r}; expected one of {', '.join(DETECTORS)}")


def crop_face(grey, box, margin=0.1, size=IMAGE_SIZE):
    """The face ``box`` of ``grey``, enlarged by ``margin`` of its side on every side, made square,
    as a ``size``×``size`` uint8 crop (INTER_AREA). Parts outside the image repeat the edge pixels.
    """
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = x0 + int(round(side)), y0 + int(round(side))
    height, width = grey.shape
    crop = grey[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


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
    parser = argparse.ArgumentParser(
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


if __name__ == "__main__":
    sys.exit(main())
