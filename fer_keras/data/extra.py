"""Extra training faces from a folder of photos ``ROOT/<emotion>/*.png|jpg``.

Each photo goes the way ``fer_keras.inference.predict`` reads one — OpenCV's Haar cascade finds the face
(the largest, when there are several), ``crop_face`` cuts it square with a 10 % margin and scales
it to 48×48 grey — or, with ``detect=False``, is taken as an already-cropped face. Photos without
a face are counted and skipped. :func:`add_extra_faces` then adds the faces to a *training* split
only, after refusing every exact copy (by content hash) of a validation or test image, and at most
``per_class`` of each emotion; the counts go into the run's ``config.json``.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.cli import lazy_import
from fer_keras.data.container import FERData
from fer_keras.data.decode import decode_batch, skipped_note
from fer_keras.data.hashing import occurs_in
from fer_keras.data.io import IMAGE_EXTENSIONS
from fer_keras.errors import FERDataError

cv2 = lazy_import("cv2")

LAYOUT = f"ROOT/<emotion>/*{'|'.join(IMAGE_EXTENSIONS)} with <emotion> one of {', '.join(EMOTIONS)}"


@dataclass(frozen=True, eq=False)
class ExtraFaces:
    """The photos of an extra-faces folder, read.

    images: uint8 N×48×48, each whole photo in grey at 48×48 (INTER_AREA; the image-folder loader's
            conversion), for the exact-copy check of a dataset image dropped into the folder.
    faces:  uint8 N×48×48, the face crops (zeros where ``found`` is False).
    found:  bool N, whether a face was found (always True with ``detect=False``).
    labels: int64 N, the emotion of each photo's folder; ``paths``: each photo's path under ``source``.
    """

    images: np.ndarray
    faces: np.ndarray
    found: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    source: str
    detector: str
    unreadable: tuple = ()
    """One message per photo that could not be read (skipped; see ``fer_keras.data.decode``)."""

    def fingerprint(self):
        """A short content hash (two runs given the same faces share it)."""
        digest = hashlib.sha256(self.faces.tobytes())
        digest.update(self.labels.astype(np.int64).tobytes())
        return digest.hexdigest()[:16]


def extra_files(root):
    """``[(path, label)]`` of every image under ``ROOT/<emotion>/``; a one-line FERDataError that
    says what to do for a missing or empty folder or a sub-folder that is not an emotion."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FERDataError(f"{root}: no such folder; give a folder of emotion folders, {LAYOUT}")
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for folder in subdirs:
        if folder.name.lower() not in EMOTIONS:
            raise FERDataError(f"{folder}: {folder.name!r} is not an emotion; rename the folder to one of "
                               f"{', '.join(EMOTIONS)} (or move it out of {root})")
    files = [(path, EMOTIONS.index(folder.name.lower())) for folder in subdirs for path in sorted(folder.iterdir())
             if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")]
    if not files:
        raise FERDataError(f"{root}: no images found; put the faces in {LAYOUT}")
    return files


def read_extra_faces(root, detect=True, detector="haar", min_face=30, margin=0.1):
    """Read the folder ``root`` (see :func:`extra_files`) into :class:`ExtraFaces`: each photo's
    face found by ``detector`` ("haar" or "mtcnn", predict's) and cropped with ``margin``, or, with
    ``detect=False``, the whole photo taken as the face. An unreadable photo is skipped and listed in
    ``unreadable``; a FERDataError when none is readable."""
    from fer_keras.data.faces import crop_face, make_detector, read_image, to_grey

    files = extra_files(root)
    greys, bad = decode_batch([path for path, _ in files], lambda path: to_grey(read_image(path)))
    if len(bad) == len(files):
        raise FERDataError(f"{Path(root).expanduser()}: none of its {len(files)} photo(s) could be read ({bad[0][1]})")
    unreadable = {i for i, _ in bad}
    files = [f for i, f in enumerate(files) if i not in unreadable]
    finder = make_detector(detector, min_face) if detect else None
    n = len(files)
    images, faces = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    found = np.zeros(n, bool)
    for i, grey in enumerate(greys):
        images[i] = grey if grey.shape == images.shape[1:] else cv2.resize(grey, (IMAGE_SIZE, IMAGE_SIZE),
                                                                           interpolation=cv2.INTER_AREA)
        boxes = finder.detect(grey) if finder else []
        if boxes:
            faces[i], found[i] = crop_face(grey, max(boxes, key=lambda b: b[2] * b[3]), margin), True
        elif not detect:
            faces[i], found[i] = images[i], True
    root = Path(root).expanduser()
    return ExtraFaces(images, faces, found, np.array([label for _, label in files], dtype=np.int64),
                      np.array([str(path.relative_to(root)) for path, _ in files], dtype=object), str(root),
                      detector if detect else "none (already-cropped faces)", tuple(message for _, message in bad))


def add_extra_faces(train, extra, held_out, per_class=None, seed=0):
    """``train`` (a FERData) with the usable faces of ``extra`` appended as Training rows, and the
    counts. A photo is refused when its 48×48 grey copy or its face crop is an exact copy of one of
    the ``held_out`` images (validation and test), skipped when no face was found, and left out past
    ``per_class`` added faces of its emotion (a seeded random choice). ``train`` is not changed."""
    held_out = np.asarray(held_out, dtype=np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    copies = occurs_in(extra.images, held_out) | (extra.found & occurs_in(extra.faces, held_out))
    usable = np.flatnonzero(extra.found & ~copies)
    if per_class is not None:
        rng = np.random.default_rng(seed)
        usable = np.sort(np.concatenate([rng.permutation(usable[extra.labels[usable] == k])[:per_class]
                                         for k in range(len(EMOTIONS))]).astype(np.int64))
    added = np.bincount(extra.labels[usable], minlength=len(EMOTIONS))
    counts = {"source": extra.source, "detector": extra.detector, "images": len(extra.labels),
              "unreadable": len(extra.unreadable),
              "test_copies": int(copies.sum()), "no_face": int((~extra.found & ~copies).sum()),
              "over_per_class": int((extra.found & ~copies).sum() - len(usable)), "per_class": per_class,
              "added": int(len(usable)), "added_per_class": dict(zip(EMOTIONS, added.tolist()))}
    note = (f"extra training faces from {extra.source}: {counts['added']} added, {counts['test_copies']} exact copies "
            f"of validation/test images refused, {counts['no_face']} without a face skipped"
            + (f"; {skipped_note(list(extra.unreadable))}" if extra.unreadable else ""))
    ids = np.array([f"extra {path}" for path in extra.paths[usable]], dtype=object)
    merged = FERData(np.concatenate([train.images, extra.faces[usable]]),
                     np.concatenate([train.labels, extra.labels[usable]]),
                     np.concatenate([train.usage, np.full(len(usable), "Training", object)]),
                     np.concatenate([train.source_ids, ids]), train.source, train.notes + (note,))
    return merged, counts
