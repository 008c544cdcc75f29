"""The embedded default dataset: procedurally drawn FER-like faces with planted defects.

A fresh clone can train, test and demo offline on it. Each image is a 48×48 grey face drawn with
OpenCV primitives (at 4× resolution, then area-averaged down): oval, ears, hair, eyes, brows, nose,
mouth. The emotion is carried by the face parts the way people show it — a smile for *happy*, an
open round mouth with raised brows and wide eyes for *surprise*, a frown (inner brows down),
narrowed eyes and a tight mouth for *angry*, and so on — through continuous parameters drawn from
class-dependent distributions that overlap (fear/surprise, sad/neutral, angry/disgust) and an
expression intensity, so a small CNN learns it well but not perfectly. Nuisances: position,
scale, rotation (±10°), skin tone, hair, background gradient and texture, brightness, contrast,
blur, noise and occasional occluders (hand, bar, glasses).

Class proportions follow FER2013's training counts, ``Usage`` is a stratified 80/10/10 split, rows
are ordered Training, PublicTest, PrivateTest like the Kaggle CSV, and the defects of FER2013 are
planted with exact ground truth (:class:`PlantedDefects`): same-label duplicates (some straddling
splits), conflicting-label duplicates, bright "misleading" outliers and constant images.

    python -m fer_keras.data.synthetic --out synthetic.csv --n 4000 --seed 0
"""

import functools
import math
import sys
from dataclasses import dataclass

import numpy as np

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.cli import ArgumentParser, lazy_import, user_errors_exit
from fer_keras.data.container import SPLITS, FERData, make_fer_data
from fer_keras.data.hashing import image_hashes
from fer_keras.data.io import write_csv
from fer_keras.errors import FERDataError

cv2 = lazy_import("cv2")

FER2013_TRAIN_COUNTS = {"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215,
                        "sad": 4830, "surprise": 3171, "neutral": 4965}
"""FER2013's Training counts per emotion; the synthetic class proportions follow them."""

SPLIT_FRACTIONS = {"Training": 0.8, "PublicTest": 0.1, "PrivateTest": 0.1}

MASK_PARTS = ("mouth", "eyes", "brows")
"""The face parts whose regions ``generate(return_masks=True)`` returns, in this order."""

BRIGHT_MEAN = 230
"""FER2013's outlier rule: an image whose mean pixel exceeds this is a "misleading outlier"."""

# How each emotion shows, in 48-px face units (y grows downwards): per parameter, one (mean, sd)
# per emotion in label order  angry, disgust, fear, happy, sad, surprise, neutral.
# curve: mouth corners above its centre (+ smile, − frown); open: height of an open mouth;
# width: mouth width; lip_raise: one-sided upper-lip raise (sneer); brow_raise: both brows up;
# brow_inner: inner brow ends up (+ worry) or down (− frown, the V of anger); eye_open: half-height
# of the eye opening. Expressions vary in intensity, scaling each mean's distance from neutral.
_EXPRESSION = {
    #              angry        disgust      fear         happy        sad          surprise     neutral
    "curve":      ((-0.8, 0.7), (-1.0, 0.8), (-0.9, 0.8), (3.0, 1.0), (-2.0, 0.8), (0.0, 0.6), (0.0, 0.5)),
    "open":       ((1.6, 0.8), (1.2, 0.6), (2.8, 1.0), (2.8, 1.0), (0.8, 0.5), (5.0, 1.2), (0.8, 0.4)),
    "width":      ((9.0, 1.3), (10.0, 1.3), (12.5, 1.6), (13.0, 1.5), (10.0, 1.3), (7.5, 1.2), (10.5, 1.3)),
    "lip_raise":  ((0.2, 0.4), (2.4, 0.8), (0.2, 0.4), (0.0, 0.3), (0.0, 0.3), (0.0, 0.3), (0.0, 0.3)),
    "brow_raise": ((-1.0, 0.7), (-0.7, 0.7), (1.5, 0.8), (0.3, 0.7), (0.2, 0.7), (2.6, 0.8), (0.0, 0.5)),
    "brow_inner": ((-2.0, 0.8), (-1.0, 0.8), (1.8, 0.8), (0.0, 0.6), (1.6, 0.8), (0.6, 0.6), (0.0, 0.5)),
    "eye_open":   ((0.95, 0.3), (1.0, 0.3), (2.3, 0.45), (1.25, 0.35), (1.2, 0.35), (2.6, 0.4), (1.6, 0.35)),
}
# Per emotion, the chance that the mouth is open, that open teeth show, that the nose / brows
# wrinkle; and how boxy an open mouth is (0.5 round … 0.2 stretched sideways).
_CHANCE = {
    #            angry disgust fear  happy sad   surprise neutral
    "open":     (0.20, 0.35, 0.85, 0.55, 0.10, 0.95, 0.05),
    "teeth":    (0.80, 0.60, 0.50, 0.80, 0.10, 0.20, 0.10),
    "wrinkles": (0.50, 0.70, 0.10, 0.10, 0.10, 0.00, 0.05),
}
_MOUTH_POWER = (0.25, 0.30, 0.22, 0.60, 0.40, 0.50, 0.40)

_CONFUSABLE = {  # labels a conflicting copy plausibly gets (FER2013's disagreements are near misses)
    "angry": ("disgust", "sad", "neutral"), "disgust": ("angry", "sad"), "fear": ("surprise", "sad"),
    "happy": ("neutral", "surprise"), "sad": ("neutral", "fear", "angry"), "surprise": ("fear", "happy"),
    "neutral": ("sad", "happy", "angry"),
}
_OUTLIER_TEXTS = ("FER", "FER2013", "FER 2013", "fer", "no face", "?", "(c)", "image", "kaggle",
                  "WATERMARK", "N/A", "404", "emotion", "stock")

_SCALE = 4  # drawing resolution relative to 48 px
_FIX = 16  # fixed-point factor of the coordinates: 48-px units × 16 (cv2 ``shift=4``)
_SHIFT_IMAGE = 2  # on the 4× canvas, coordinates ×16 / 2**2 = ×4
_SHIFT_MASK = 4  # on the 48-px mask canvas, ×16 / 2**4 = ×1
_BIG = IMAGE_SIZE * _SCALE


@dataclass(frozen=True, eq=False)
class PlantedDefects:
    """Ground truth of the defects planted in a synthetic set; indices refer to its final rows.

    duplicate_groups:  rows of each group of identical images sharing one label (original + copies).
    conflict_groups:   rows of each group of identical images whose labels disagree.
    bright_outliers:   rows whose mean pixel exceeds 230 (white images with dark text, blank white).
    constant_images:   rows whose pixels are all one value (all-black like FER2013's, blank white).
    straddling_groups: the duplicate and conflict groups whose rows lie in more than one split.
    """

    duplicate_groups: tuple
    conflict_groups: tuple
    bright_outliers: np.ndarray
    constant_images: np.ndarray
    straddling_groups: tuple

    @property
    def n_extra_duplicates(self):
        """Rows beyond the first copy of each image, over duplicate and conflict groups."""
        return sum(len(g) - 1 for g in self.duplicate_groups + self.conflict_groups)

    @property
    def n_conflict_rows(self):
        """Rows in groups whose copies disagree on the label (what the thesis drops)."""
        return sum(len(g) for g in self.conflict_groups)


@dataclass(frozen=True, eq=False)
class SyntheticFER:
    """A generated set: the data, the truth about its planted defects, and optionally part masks.

    masks: bool array N×3×48×48 in ``MASK_PARTS`` order (mouth, eyes, brows), each part's region
    after all geometric transforms, dilated by 1 px; all False for outliers; ``None`` unless asked.
    """

    data: FERData
    truth: PlantedDefects
    masks: np.ndarray | None = None


# --------------------------------------------------------------------------- drawing


class _Painter:
    """Draws face-frame shapes (48-px units, origin at the face centre) onto a 4× canvas and,
    optionally, onto 48×48 part masks, through one similarity transform (shift, scale, rotation)."""

    def __init__(self, canvas, masks, center, scale, angle):
        self.canvas, self.masks, self.scale, self.angle = canvas, masks, scale, angle
        cos, sin = scale * math.cos(math.radians(angle)), scale * math.sin(math.radians(angle))
        self.a, self.b, self.c, self.d = cos * _FIX, -sin * _FIX, sin * _FIX, cos * _FIX
        self.tx, self.ty = center[0] * _FIX, center[1] * _FIX
        self.matrix = np.array([[self.a, self.c], [self.b, self.d]])

    def _fixed(self, xy):
        """Face-frame points → fixed-point 48-px image coordinates (int32 N×2)."""
        return np.rint(np.asarray(xy, dtype=np.float64) @ self.matrix + (self.tx, self.ty)).astype(np.int32)

    def _point(self, x, y):
        return round(self.a * x + self.b * y + self.tx), round(self.c * x + self.d * y + self.ty)

    def _width(self, width):
        return max(1, round(width * self.scale * _SCALE)), max(1, round(width * self.scale))

    def ellipse(self, center, axes, color, thickness=-1.0, tilt=0.0, arc=(0, 360), part=None):
        c = self._point(*center)
        ax = (max(1, round(axes[0] * self.scale * _FIX)), max(1, round(axes[1] * self.scale * _FIX)))
        big, small = self._width(thickness) if thickness > 0 else (-1, -1)
        cv2.ellipse(self.canvas, c, ax, self.angle + tilt, arc[0], arc[1], color, big, cv2.LINE_8, _SHIFT_IMAGE)
        if part is not None and self.masks is not None:
            cv2.ellipse(self.masks[part], c, ax, self.angle + tilt, arc[0], arc[1], 1, small, cv2.LINE_8, _SHIFT_MASK)

    def polygon(self, xy, color, part=None):
        pts = [self._fixed(xy)]
        cv2.fillPoly(self.canvas, pts, color, cv2.LINE_8, _SHIFT_IMAGE)
        if part is not None and self.masks is not None:
            cv2.fillPoly(self.masks[part], pts, 1, cv2.LINE_8, _SHIFT_MASK)

    def line(self, xy, color, width, part=None, closed=False):
        pts = [self._fixed(xy)]
        big, small = self._width(width)
        cv2.polylines(self.canvas, pts, closed, color, big, cv2.LINE_8, _SHIFT_IMAGE)
        if part is not None and self.masks is not None:
            cv2.polylines(self.masks[part], pts, closed, 1, small, cv2.LINE_8, _SHIFT_MASK)


_T = np.linspace(-1.0, 1.0, 15)  # parameter along the mouth, corner to corner
_B = np.linspace(0.0, 1.0, 8)[:, None]  # parameter along a brow, inner to outer
_RAMP = np.linspace(-0.5, 0.5, 24, dtype=np.float32)
_DILATE = np.ones((3, 3), np.uint8)


def _background(p):
    """A 4× canvas: grey level + linear gradient + smooth blotchy texture (built at 24 px, upsampled)."""
    texture = cv2.resize(p["texture"], (24, 24), interpolation=cv2.INTER_CUBIC)
    back = p["back"] + p["grad_x"] * _RAMP[None, :] + p["grad_y"] * _RAMP[:, None] + p["tex_amp"] * texture
    return cv2.resize(np.clip(back, 0, 255).astype(np.uint8), (_BIG, _BIG), interpolation=cv2.INTER_LINEAR)


def _outline(x, top, bottom):
    """The closed polygon between two curves over the same x."""
    return np.stack([np.concatenate([x, x[::-1]]), np.concatenate([top, bottom[::-1]])], 1)


def _draw_mouth(pt, p, skin):
    """Lips, and the dark opening (with teeth) when open; ``p`` holds the expression parameters."""
    y0, half = 10.0, p["width"] / 2
    x = _T * half
    base = y0 - p["curve"] * _T ** 2
    sneer = p["lip_raise"] * np.clip(p["side"] * _T, 0, None) ** 1.5  # one-sided upper-lip raise
    profile = (1 - _T ** 2) ** p["power"]
    opening = p["open"] if p["is_open"] else 0.0
    upper = base - 0.3 * opening * profile - sneer
    lower = base + 0.7 * opening * profile
    lip = max(skin - 45, 0)
    # lip region: top of the upper lip to the bottom of the lower lip (also the mouth mask)
    top = upper - 1.1 * profile ** 0.5 - 0.2
    bottom = lower + 1.7 * profile ** 0.5 + 0.2
    pt.polygon(_outline(x, top, bottom), lip, part=0)
    if opening > 0.6 or p["lip_raise"] > 0.8:  # open, or a sneer baring a gap on one side
        pt.polygon(_outline(x, upper, lower), p["cavity"])
        if p["teeth"]:
            band = np.minimum(upper + min(0.45 * max(opening, p["lip_raise"]), 2.2), lower)
            pt.polygon(_outline(x, upper, band), p["teeth_tone"])
        pt.line(np.stack([x, upper], 1), max(lip - 30, 0), 0.5)
    else:
        pt.line(np.stack([x, (upper + lower) / 2], 1), max(skin - 95, 0), 0.9)
    if p["curve"] > 1.2 or p["lip_raise"] > 1.2:  # nasolabial folds of a smile or a sneer
        for side in (-1, 1):
            lift = p["curve"] if p["curve"] > 1.2 else p["lip_raise"] * (side == p["side"])
            if lift > 1.2:
                fold = [[side * 3.8, 1.5], [side * (half + 0.8), y0 - 2], [side * (half + 1.2), y0 + 1 - 0.3 * lift]]
                pt.line(fold, max(skin - 30, 0), 0.45)


def _draw_eyes_and_brows(pt, p, skin):
    dark = max(skin - 110, 0)
    for side in (-1, 1):
        cx, cy = side * 8.0, -7.0
        pt.ellipse((cx, cy - 0.4), (5.0, 3.3), max(skin - 22, 0))  # socket shadow
        opening = p["eye_open"]
        pt.ellipse((cx, cy), (3.6, opening), p["sclera"], tilt=side * p["eye_tilt"], part=1)
        pt.ellipse((cx + p["gaze"], cy), (1.7, min(1.7, opening)), p["iris"])
        pt.ellipse((cx, cy), (3.6, opening), dark, thickness=0.6, tilt=side * p["eye_tilt"], arc=(180, 360), part=1)
        # brow: inner end (x = 3.2) raised by brow_inner, arched, both raised by brow_raise
        y_base = -11.6 - p["brow_raise"]
        inner = np.array([side * 3.2, y_base - p["brow_inner"]])
        outer = np.array([side * 12.0, y_base + 0.6 + 0.25 * p["brow_inner"]])
        mid = (inner + outer) / 2 + [0, -0.9 - 0.25 * max(p["brow_raise"], 0)]
        brow = (1 - _B) ** 2 * inner + 2 * (1 - _B) * _B * mid + _B ** 2 * outer
        pt.line(brow, p["brow_tone"], p["brow_width"], part=2)
    if p["wrinkles"]:
        crease = max(skin - 50, 0)
        for side in (-1, 1):
            pt.line([[side * 1.2, -5.0], [side * 3.2, -2.2]], crease, 0.5)  # nose wrinkles
            if p["brow_inner"] < -0.8:
                pt.line([[side * 1.0, -11.0], [side * 1.3, -8.2]], crease, 0.4)  # frown lines


def _draw_occluder(pt, p, canvas, skin):
    kind = p["occluder"]
    if kind == 1:  # a hand over mouth, chin or cheek
        hx, hy = p["occ_x"] * 9, 8 + p["occ_y"] * 4
        tone = int(np.clip(skin + 15, 40, 225))
        pt.ellipse((hx, hy + 4), (7.5, 8.5), tone, tilt=15 * p["occ_x"])
        for k in range(4):
            fx = hx - 4.5 + 3 * k
            pt.line([[fx, hy + 2], [fx + 0.5 * p["occ_x"], hy - 6 - (k in (1, 2))]], tone, 2.6)
            pt.line([[fx + 1.4, hy + 1], [fx + 1.6, hy - 4]], max(tone - 35, 0), 0.35)
    elif kind == 2:  # a dark or light bar across the picture (caption, censor bar)
        y = int((8 + p["occ_y"] * 16 + 24) * _SCALE)
        cv2.rectangle(canvas, (0, y), (_BIG, y + int((3 + 3 * abs(p["occ_x"])) * _SCALE)), p["occ_tone"], -1)
    elif kind == 3:  # glasses; dark lenses sometimes
        for side in (-1, 1):
            if p["occ_x"] > 0.4:
                pt.ellipse((side * 8.0, -6.8), (5.0, 4.0), 25)
            pt.ellipse((side * 8.0, -6.8), (5.0, 4.0), p["occ_tone"] // 4, thickness=0.7)
        pt.line([[-3.0, -7.5], [3.0, -7.5]], p["occ_tone"] // 4, 0.7)


def _render_face(p, with_masks):
    """One face at 4×, area-averaged to 48×48 (float32), and its part masks (or None)."""
    canvas = _background(p)
    masks = np.zeros((len(MASK_PARTS), IMAGE_SIZE, IMAGE_SIZE), np.uint8) if with_masks else None
    pt = _Painter(canvas, masks, (24 + p["dx"], 26 + p["dy"]), p["scale"], p["angle"])
    skin, hair = p["skin"], p["hair"]
    pt.ellipse((0, 36), (30, 12), p["clothes"])  # shoulders
    pt.polygon([[-7.5, 12], [7.5, 12], [8.5, 30], [-8.5, 30]], max(skin - 25, 0))  # neck
    if p["hair_style"] > 0:
        pt.ellipse((0, -5 + 2 * p["hair_style"]), (19.5, 20 + 3 * p["hair_style"]), hair)
    for side in (-1, 1):
        pt.ellipse((side * 16.8, -3.5), (2.6, 4.8), max(skin - 15, 0))  # ears
    pt.ellipse((0, 0), (16.5 * p["face_w"], 21), skin)
    pt.ellipse((0, 4), (16.5 * p["face_w"], 17), max(skin - 18, 0), thickness=0.6, arc=(20, 160))  # jaw shade
    if p["hair_style"] > 0:
        pt.ellipse((p["fringe_x"], -21.5 + p["fringe"]), (15.5, 6.5), hair)
    pt.line([[0.3, -5], [0.9, 1.5]], max(skin - 25, 0), 0.5)  # nose bridge
    pt.line([[-2.6, 2.4], [-1.2, 3.8], [1.2, 3.8], [2.6, 2.4]], max(skin - 55, 0), 0.55)  # nostrils
    _draw_eyes_and_brows(pt, p, skin)
    _draw_mouth(pt, p, skin)
    if p["occluder"]:
        _draw_occluder(pt, p, canvas, skin)
    small = cv2.resize(canvas, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32)
    if p["blur"] > 0.3:
        small = cv2.GaussianBlur(small, (0, 0), p["blur"])
    if masks is not None:
        masks = np.stack([cv2.dilate(part, _DILATE) for part in masks]).astype(bool)  # grown by 1 px
    return small, masks


def _sample_params(labels, rng):
    """Every random choice of every face, drawn at once (columns of length N)."""
    n = len(labels)
    neutral = EMOTIONS.index("neutral")
    intensity = np.clip(rng.normal(0.9, 0.25, n), 0.3, 1.3)  # how strongly the emotion shows
    p = {}
    for name, per_emotion in _EXPRESSION.items():
        mean, sd = np.array(per_emotion).T
        centre = mean[neutral] + intensity * (mean[labels] - mean[neutral])
        p[name] = centre + sd[labels] * rng.standard_normal(n)
    p["open"] = np.clip(p["open"], 0.0, 8.0)
    p["width"] = np.clip(p["width"], 5.0, 17.0)
    p["eye_open"] = np.clip(p["eye_open"], 0.35, 3.4)
    p["lip_raise"] = np.clip(p["lip_raise"], 0.0, 3.5)
    p["curve"] = np.clip(p["curve"], -3.5, 4.5)
    p["is_open"], p["teeth"], p["wrinkles"] = (rng.random(n) < np.array(_CHANCE[name])[labels]
                                               for name in ("open", "teeth", "wrinkles"))
    p["power"] = np.array(_MOUTH_POWER)[labels] * rng.uniform(0.8, 1.25, n)
    p["side"] = rng.choice([-1.0, 1.0], n)
    # identity and nuisance
    p["skin"] = rng.integers(90, 215, n)
    p["hair"] = rng.integers(10, 120, n)
    p["hair_style"] = rng.choice([0, 1, 2], n, p=[0.15, 0.55, 0.30])
    p["fringe"] = rng.uniform(-3, 4.0, n)
    p["fringe_x"] = rng.normal(0, 2.5, n)
    p["face_w"] = rng.uniform(0.9, 1.08, n)
    p["clothes"] = rng.integers(0, 256, n)
    p["iris"] = rng.integers(10, 70, n)
    p["gaze"] = rng.normal(0, 0.5, n)
    p["eye_tilt"] = rng.normal(0, 4, n)
    p["brow_width"] = rng.uniform(1.1, 2.0, n)
    p["brow_tone"] = np.minimum(p["hair"] + rng.integers(0, 40, n), p["skin"] - 50)
    p["cavity"] = rng.integers(10, 60, n)
    p["teeth_tone"] = rng.integers(170, 245, n)
    p["dx"] = np.clip(rng.normal(0, 1.5, n), -3.5, 3.5)
    p["dy"] = np.clip(rng.normal(0, 1.5, n), -3.5, 3.5)
    p["scale"] = rng.uniform(0.86, 1.12, n)
    p["angle"] = np.clip(rng.normal(0, 4.5, n), -10, 10)
    p["back"] = rng.uniform(15, 235, n)
    p["grad_x"] = rng.normal(0, 40, n)
    p["grad_y"] = rng.normal(0, 40, n)
    p["tex_amp"] = rng.uniform(0, 30, n)
    p["blur"] = rng.choice([0.0, 1.0], n, p=[0.6, 0.4]) * rng.uniform(0.3, 0.9, n)
    p["occluder"] = rng.choice([0, 1, 2, 3], n, p=[0.88, 0.04, 0.03, 0.05])
    p["occ_x"] = rng.uniform(-1, 1, n)
    p["occ_y"] = rng.uniform(-1, 1, n)
    p["occ_tone"] = rng.choice([15, 235], n)
    p["sclera"] = np.minimum(p["skin"] + rng.integers(15, 50, n), 240)
    rows = [dict(zip(p, values)) for values in zip(*(v.tolist() for v in p.values()))]
    for row, texture in zip(rows, rng.uniform(-1, 1, (n, 5, 5)).astype(np.float32)):
        row["texture"] = texture
    # photometric nuisance, applied to the whole batch at once
    photo = {"contrast": rng.uniform(0.7, 1.3, n), "brightness": rng.normal(0, 12, n),
             "noise": rng.uniform(1.0, 6.0, n)}
    photo = {name: values.astype(np.float32)[:, None, None] for name, values in photo.items()}
    return rows, photo


def _draw_faces(labels, rng, with_masks):
    """Faces for ``labels`` (uint8 N×48×48) and their part masks (bool N×3×48×48, or None)."""
    rows, photo = _sample_params(labels, rng)
    n = len(labels)
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    masks = np.zeros((n, len(MASK_PARTS), IMAGE_SIZE, IMAGE_SIZE), bool) if with_masks else None
    for i, row in enumerate(rows):
        images[i], mask = _render_face(row, with_masks)
        if with_masks:
            masks[i] = mask
    mean = images.mean(axis=(1, 2), keepdims=True)
    images = (images - mean) * photo["contrast"] + mean + photo["brightness"]
    images += rng.standard_normal(images.shape, dtype=np.float32) * photo["noise"]
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), masks


def _bright_outlier(rng):
    """A near-white picture with dark text ("FER", a watermark…): mean pixel above 230."""
    canvas = np.full((_BIG, _BIG), rng.integers(240, 256), np.uint8)
    text = str(rng.choice(_OUTLIER_TEXTS))
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
                           cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX]))
    thickness = int(rng.integers(2, 6))
    scale = rng.uniform(1.0, 4.0)
    while True:  # shrink the text until it fits and leaves the picture bright
        (w, h), base = cv2.getTextSize(text, font, scale, thickness)
        if w < _BIG - 8 and h + base < _BIG - 8:
            image = canvas.copy()
            org = (int(rng.integers(4, _BIG - w - 3)), int(rng.integers(h + 4, _BIG - base - 3)))
            cv2.putText(image, text, org, font, scale, int(rng.integers(0, 90)), thickness, cv2.LINE_AA)
            small = cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
            if small.mean() > BRIGHT_MEAN + 1:
                return small
        scale *= 0.8


def _largest_remainder(total, weights):
    """Integer counts proportional to ``weights`` that sum exactly to ``total``."""
    share = total * np.asarray(weights, dtype=float) / np.sum(weights)
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share, kind="stable")[: total - counts.sum()]] += 1
    return counts


def _stratified_usage(labels):
    """Usage per row, 80/10/10 within every class (rows are already in random order)."""
    usage = np.empty(len(labels), dtype=object)
    for c in range(len(EMOTIONS)):
        rows = np.flatnonzero(labels == c)
        usage[rows] = np.repeat(SPLITS, _largest_remainder(len(rows), list(SPLIT_FRACTIONS.values())))
    return usage


def _plant_copies(rows, copies_per_group, conflicting, rng):
    """Append copies of distinct natural rows to ``rows``; return the groups (original + copies).

    A third of same-label groups (a quarter of conflicting ones) straddle splits; a straddling
    original comes from a test split 80 % of the time with its copy in Training, and otherwise the
    other way round, so that the copies too fall 80/10/10 on average.
    """
    copied = {r[0] for i, r in enumerate(rows) if r[0] != i}  # originals of earlier groups
    natural = [i for i, r in enumerate(rows) if r[0] == i and i not in copied]
    pools = {s: [i for i in rng.permutation(natural) if rows[i][2] == s] for s in SPLITS}
    groups = []
    for copies in copies_per_group:
        if rng.random() < (0.25 if conflicting else 0.35):
            test = SPLITS[1 + rng.integers(2)]
            source, target = (test, "Training") if rng.random() < 0.8 else ("Training", test)
        else:
            source = target = SPLITS[rng.choice(len(SPLITS), p=list(SPLIT_FRACTIONS.values()))]
        pool = pools[source] or max(pools.values(), key=len)
        original = int(pool.pop())
        label = rows[original][1]
        alternatives = [EMOTIONS.index(e) for e in _CONFUSABLE[EMOTIONS[label]]]
        alternatives += [c for c in range(len(EMOTIONS)) if c not in alternatives and c != label]
        group = [original]
        for k in range(copies):
            split = target if k == 0 or rng.random() < 0.5 else rows[original][2]
            if conflicting:  # a plausible confusion mostly, sometimes an unrelated emotion
                label = alternatives[k] if rng.random() < 0.8 else alternatives[-1 - k]
            group.append(len(rows))
            rows.append((original, label, split))
        groups.append(group)
    return groups


def _faulty_faces(images):
    """Rows that would blur the planted truth: too bright, constant, or identical to an earlier row."""
    flat = images.reshape(len(images), -1)
    _, first = np.unique(image_hashes(images), return_index=True)
    repeated = np.ones(len(images), bool)
    repeated[first] = False
    return (flat.mean(axis=1) > BRIGHT_MEAN) | (flat.min(axis=1) == flat.max(axis=1)) | repeated


def _natural_faces(labels, rng, with_masks):
    """Faces for ``labels``, redrawn where one would blur the planted truth (see ``_faulty_faces``)."""
    images, masks = _draw_faces(labels, rng, with_masks)
    for _ in range(10):
        faulty = np.flatnonzero(_faulty_faces(images))
        if not len(faulty):
            break
        images[faulty], redrawn = _draw_faces(labels[faulty], rng, with_masks)
        if with_masks:
            masks[faulty] = redrawn
    assert not _faulty_faces(images).any(), "synthetic faces must be unique, not bright, not constant"
    return images, masks


def _outlier_pictures(n_bright, n_constant, rng):
    """Distinct bright pictures (text on white) and constant ones: blank white (counted in both
    when both are asked for), all black, then other distinct grey levels."""
    white = int(n_bright > 0 and n_constant > 0)
    pictures, seen = [], set()
    while len(pictures) < n_bright - white:
        picture = _bright_outlier(rng)
        if picture.tobytes() not in seen:
            seen.add(picture.tobytes())
            pictures.append(picture)
    levels = [255] * white + [0] + rng.choice(np.arange(1, BRIGHT_MEAN + 1), 200, replace=False).tolist()
    return pictures + [np.full((IMAGE_SIZE, IMAGE_SIZE), v, np.uint8) for v in levels[:n_constant]]


def _check_args(n_samples, duplicate_fraction, conflict_groups, n_bright_outliers, n_constant):
    if not 0 <= duplicate_fraction < 0.5:
        raise FERDataError(f"duplicate_fraction={duplicate_fraction} must lie in [0, 0.5)")
    for name, value in (("n_samples", n_samples), ("conflict_groups", conflict_groups),
                        ("n_bright_outliers", n_bright_outliers), ("n_constant", n_constant)):
        if int(value) != value or value < 0:
            raise FERDataError(f"{name}={value} must be a non-negative integer")
    if n_constant > 200:
        raise FERDataError(f"n_constant={n_constant}: at most 200 distinct constant images can be planted")


def generate(n_samples=4000, seed=0, duplicate_fraction=0.04, conflict_groups=12, n_bright_outliers=10,
             n_constant=4, return_masks=False):
    """Draw a synthetic FER set of ``n_samples`` rows (planted rows included), deterministic per seed.

    duplicate_fraction: extra same-label copies, as a fraction of all rows (groups of 2–3; about a
                        third of the groups straddle splits, the leakage FER2013 has).
    conflict_groups:    groups of 2–3 identical images whose labels disagree.
    n_bright_outliers:  images with mean pixel > 230 (text on white; one blank white if n_constant).
    n_constant:         single-valued images: all black first, the blank white one, then other values.
    return_masks:       also return the mouth / eyes / brows region of every row (see ``SyntheticFER``).
    """
    _check_args(n_samples, duplicate_fraction, conflict_groups, n_bright_outliers, n_constant)
    rng = np.random.default_rng(seed)
    white = int(n_bright_outliers > 0 and n_constant > 0)  # the blank white image is both
    n_outliers = n_bright_outliers + n_constant - white
    dup_copies = []
    remaining = round(duplicate_fraction * n_samples)
    while remaining > 0:
        dup_copies.append(2 if remaining > 1 and rng.random() < 0.2 else 1)
        remaining -= dup_copies[-1]
    conflict_copies = rng.integers(1, 3, conflict_groups).tolist()
    n_natural = n_samples - n_outliers - sum(dup_copies) - sum(conflict_copies)
    n_groups = len(dup_copies) + conflict_groups
    if n_natural < max(n_groups, len(EMOTIONS)):
        raise FERDataError(
            f"n_samples={n_samples} is too small for the planted defects ({n_samples - n_natural} planted rows); "
            "raise n_samples or lower duplicate_fraction / conflict_groups / outlier counts")

    # natural faces: FER2013 proportions, stratified 80/10/10, no two alike, none bright or constant
    labels = rng.permutation(np.repeat(np.arange(len(EMOTIONS)),
                                       _largest_remainder(n_natural, list(FER2013_TRAIN_COUNTS.values()))))
    usage = _stratified_usage(labels)
    images, masks = _natural_faces(labels, rng, return_masks)

    # planted rows: (index into `pictures`, label, usage); groups hold row numbers
    pictures = list(images)
    rows = [(i, int(labels[i]), usage[i]) for i in range(n_natural)]
    duplicate_groups = _plant_copies(rows, dup_copies, conflicting=False, rng=rng)
    conflict_groups_rows = _plant_copies(rows, conflict_copies, conflicting=True, rng=rng)
    class_share = np.array(list(FER2013_TRAIN_COUNTS.values())) / sum(FER2013_TRAIN_COUNTS.values())
    bright_rows, constant_rows = [], []
    for picture in _outlier_pictures(n_bright_outliers, n_constant, rng):
        if picture.mean() > BRIGHT_MEAN:
            bright_rows.append(len(rows))
        if picture.min() == picture.max():
            constant_rows.append(len(rows))
        pictures.append(picture)
        rows.append((len(pictures) - 1, int(rng.choice(len(EMOTIONS), p=class_share)),
                     SPLITS[rng.choice(len(SPLITS), p=list(SPLIT_FRACTIONS.values()))]))
    assert len(rows) == n_samples and len(bright_rows) == n_bright_outliers and len(constant_rows) == n_constant
    assert len(set(image_hashes(np.stack(pictures)).tolist())) == len(pictures), "outliers must be unique"

    # Kaggle order: Training, PublicTest, PrivateTest, shuffled within each split
    row_usage = np.array([r[2] for r in rows], dtype=object)
    order = np.concatenate([rng.permutation(np.flatnonzero(row_usage == s)) for s in SPLITS])
    position = np.empty(n_samples, int)
    position[order] = np.arange(n_samples)
    picture_of = np.array([r[0] for r in rows])[order]
    pictures = np.stack(pictures)
    final_images = pictures[picture_of]
    final_labels = np.array([r[1] for r in rows], dtype=np.int64)[order]
    final_usage = row_usage[order]

    def remap(groups):
        return tuple(sorted((np.sort(position[g]) for g in groups), key=lambda g: g[0]))

    duplicates, conflicts = remap(duplicate_groups), remap(conflict_groups_rows)
    truth = PlantedDefects(
        duplicate_groups=duplicates,
        conflict_groups=conflicts,
        bright_outliers=np.sort(position[bright_rows]).astype(int),
        constant_images=np.sort(position[constant_rows]).astype(int),
        straddling_groups=tuple(sorted((g for g in duplicates + conflicts if len(set(final_usage[g])) > 1),
                                       key=lambda g: g[0])),
    )
    final_masks = None
    if return_masks:
        picture_masks = np.zeros((len(pictures), len(MASK_PARTS), IMAGE_SIZE, IMAGE_SIZE), bool)
        picture_masks[:n_natural] = masks
        final_masks = picture_masks[picture_of]
    data = make_fer_data(final_images, final_labels, final_usage,
                         np.array([f"synthetic {i}" for i in range(n_samples)], dtype=object),
                         source=f"synthetic(n={n_samples}, seed={seed})")
    return SyntheticFER(data=data, truth=truth, masks=final_masks)


@functools.lru_cache(maxsize=4)
def load_synthetic(n_samples=4000, seed=0):
    """The embedded default dataset as a FERData (memoised; its arrays are read-only)."""
    data = generate(n_samples=n_samples, seed=seed).data
    for array in (data.images, data.labels, data.usage, data.source_ids):
        array.setflags(write=False)
    return data


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.data.synthetic",
        description="Write the synthetic FER dataset (procedurally drawn 48×48 faces, FER2013 class "
        "proportions and Usage splits, planted duplicates and outliers) as a Kaggle CSV: emotion,pixels,Usage.",
        epilog="example: python -m fer_keras.data.synthetic --out synthetic.csv.gz --n 10000 --seed 1",
    )
    parser.add_argument("--out", required=True, help="CSV file to write (.csv, .csv.gz or .csv.xz)")
    parser.add_argument("--n", type=int, default=4000,
                        help="number of rows, planted ones included (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed; the same seed gives the same bytes (default: %(default)s)")
    args = parser.parse_args(argv)

    synthetic = generate(n_samples=args.n, seed=args.seed)
    path = write_csv(synthetic.data, args.out)
    truth = synthetic.truth
    print(f"wrote {len(synthetic.data):,} rows of {synthetic.data.source} to {path}")
    print(f"planted: {truth.n_extra_duplicates} extra duplicates in {len(truth.duplicate_groups)} same-label "
          f"and {len(truth.conflict_groups)} conflicting groups ({truth.n_conflict_rows} rows), "
          f"{len(truth.straddling_groups)} groups straddling splits, {len(truth.bright_outliers)} bright outliers, "
          f"{len(truth.constant_images)} constant images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
