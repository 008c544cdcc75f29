"""Face regions of Bakiasi & Muça (2024): the whole face and five regions of it — left eye, right
eye, nose, mouth, the rest of the face. Their region vote (``fer_keras.evaluation.region_vote``) lets the
label most (model, region) pairs predict win; a model can also be trained on one region
(``--set model.region=NAME``: ``fer_keras.models.layers.FaceRegion`` cuts it out inside the model).

A region is a box of fixed size (``REGION_SIZES``, in 48×48-face pixels) centred on a point:

* with facial landmarks (``fer_keras.data.faces.MTCNNDetector.detect_with_landmarks`` gives ``left_eye``,
  ``right_eye``, ``nose``, ``mouth_left``, ``mouth_right`` as (x, y); here in the 48×48 crop's
  coordinates) the eyes' and the nose's boxes are centred on their points and the mouth's on the
  midpoint of its corners — or on ``mouth``, BlazeFace's one mouth point
  (``BlazeFaceDetector.detect_with_landmarks``), when the corners are not given;
* without them, on ``GEOMETRIC_CENTRES``, where an aligned 48×48 FER2013 face has them:

  ========== ========== ================ =========================
  region     centre     size (w × h)     box x0–x1, y0–y1
  ========== ========== ================ =========================
  left_eye   (15, 19)   20 × 16          5–25, 11–27
  right_eye  (33, 19)   20 × 16          23–43, 11–27
  nose       (24, 28)   16 × 16          16–32, 20–36
  mouth      (24, 38)   24 × 14          12–36, 31–45
  ========== ========== ================ =========================

  "left" is the image's left, as MTCNN names them (the person's right eye).

Each box is cut out (parts beyond the image repeat its edge pixels, so the box stays centred) and
resized back to 48×48, so the same models classify it; "rest" is the face with the four boxes
filled with the face's mean grey; "whole" is the face itself.
"""

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import lazy_import
from fer_keras.errors import FERError

cv2 = lazy_import("cv2")

REGIONS = ("left_eye", "right_eye", "nose", "mouth", "rest")
VOTE_REGIONS = REGIONS + ("whole",)
"""The regions :func:`region_vote` uses by default: Bakiasi & Muça's five and the whole face."""

PARTS = ("left_eye", "right_eye", "nose", "mouth")
REGION_SIZES = {"left_eye": (20, 16), "right_eye": (20, 16), "nose": (16, 16), "mouth": (24, 14)}
"""Width × height of each part's box, in pixels of the 48×48 face."""
GEOMETRIC_CENTRES = {"left_eye": (15, 19), "right_eye": (33, 19), "nose": (24, 28), "mouth": (24, 38)}
"""Where the parts of an aligned 48×48 face are, used when no landmarks are given."""
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def check_regions(regions):
    """``regions`` as a tuple of names from ``VOTE_REGIONS``; a one-line error names a wrong one."""
    regions = (regions,) if isinstance(regions, str) else tuple(regions)
    unknown = [r for r in regions if r not in VOTE_REGIONS]
    if unknown or not regions:
        raise FERError(f"unknown face region {unknown[0]!r}; expected some of {', '.join(VOTE_REGIONS)}" if unknown
                       else f"no face region given; expected some of {', '.join(VOTE_REGIONS)}")
    return regions


def region_centres(landmarks=None):
    """Each part's box centre (x, y): from ``landmarks`` (the mouth's is the midpoint of its corners, or
    its one ``mouth`` point) or, without them, ``GEOMETRIC_CENTRES``."""
    if landmarks is None:
        return dict(GEOMETRIC_CENTRES)
    corners = {"mouth_left", "mouth_right"}
    one_mouth = isinstance(landmarks, dict) and "mouth" in landmarks and not corners <= set(landmarks)
    keys = (*LANDMARKS[:3], "mouth") if one_mouth else LANDMARKS
    if not isinstance(landmarks, dict) or any(k not in landmarks for k in keys):
        missing = [k for k in keys if not isinstance(landmarks, dict) or k not in landmarks]
        raise FERError(f"landmarks lack {', '.join(missing)}; give a dict of {', '.join(LANDMARKS)} (or one mouth) "
                       "as (x, y) in the 48×48 face (fer_keras.data.faces: detect_with_landmarks)")
    points = {}
    for key in keys:
        point = np.asarray(landmarks[key], dtype=np.float64)
        if point.shape != (2,) or not np.all((point >= 0) & (point <= IMAGE_SIZE)):
            raise FERError(f"landmark {key} must be an (x, y) inside the {IMAGE_SIZE}×{IMAGE_SIZE} face, "
                           f"got {landmarks[key]!r}")
        points[key] = point
    mouth = points["mouth"] if one_mouth else (points["mouth_left"] + points["mouth_right"]) / 2
    return {"left_eye": tuple(points["left_eye"]), "right_eye": tuple(points["right_eye"]),
            "nose": tuple(points["nose"]), "mouth": tuple(mouth)}


def region_boxes(landmarks=None):
    """Each part's box ``(x0, y0, x1, y1)`` (ints, end-exclusive; it may reach beyond the face),
    of size ``REGION_SIZES`` centred on :func:`region_centres`."""
    boxes = {}
    for part, (cx, cy) in region_centres(landmarks).items():
        w, h = REGION_SIZES[part]
        x0, y0 = int(np.floor(cx - w / 2 + 0.5)), int(np.floor(cy - h / 2 + 0.5))
        boxes[part] = (x0, y0, x0 + w, y0 + h)
    return boxes


def _check_face(face48):
    face = np.asarray(face48)
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[..., 0]
    if face.shape != (IMAGE_SIZE, IMAGE_SIZE) or face.dtype != np.uint8:
        raise FERError(f"expected a {IMAGE_SIZE}×{IMAGE_SIZE} uint8 grey face, got an array of shape {face.shape} "
                       f"and dtype {face.dtype}")
    return face


def face_regions(face48, landmarks=None, regions=REGIONS):
    """The ``regions`` of one 48×48 uint8 face as ``{name: 48×48 uint8}`` (see the module docstring);
    ``landmarks`` place the boxes, else the fixed geometric ones. The face is not modified."""
    face, regions = _check_face(face48), check_regions(regions)
    boxes = region_boxes(landmarks)
    margin = IMAGE_SIZE
    padded = np.pad(face, margin, mode="edge")
    out = {}
    for region in regions:
        if region == "whole":
            out[region] = face.copy()
        elif region == "rest":
            rest = face.copy()
            fill = np.uint8(np.rint(face.mean()))
            for x0, y0, x1, y1 in boxes.values():
                rest[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = fill
            out[region] = rest
        else:
            x0, y0, x1, y1 = (v + margin for v in boxes[region])
            out[region] = cv2.resize(padded[y0:y1, x0:x1], (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_LINEAR)
    return out
