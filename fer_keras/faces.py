"""Face detection and cropping: OpenCV's Haar cascade → square crops → 48×48 grey faces.

The frontal-face cascade ships inside the ``opencv-python(-headless)`` 4.x wheels
(``cv2.data.haarcascades``); OpenCV 5 dropped it, hence the ``<5`` pin. On scikit-image's
``astronaut`` sample it finds one face at ``[177, 66, 95, 95]``.
"""

from pathlib import Path

import cv2
import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.errors import FERError

CASCADE = "haarcascade_frontalface_default.xml"


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
