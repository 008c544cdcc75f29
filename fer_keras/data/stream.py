"""Image folders too large for memory: an index of the files read once, and images decoded per batch.

``index_folder(root, label_set)`` reads ``ROOT/<split>/<class>/*`` (the layouts of ``load_folder``,
class folders named by the label set's classes, FER2013's by default) once,
1,024 images at a time, and keeps per image only its path, label, split, a 16-byte content digest
and its mean pixel: about 0.3 kB an image against 2.3 kB of pixels (9.2 kB as float32 model input).
The result, a :class:`FolderIndex`, is cleaned and split by the same functions as an in-memory
``FERData`` (``fer_keras.data.eda.clean``, ``fer_keras.data.splits.split``), which only look at the
digests and means: exact copies across splits are removed from the earlier split, and the run
records which test images have a copy in Training, as on the in-memory path. The fingerprint is the
in-memory one (``data_fingerprint`` of the same folder loaded whole with the same label set). Folders
hold hard labels only: label distributions (FER+'s ``--ferplus-mode probability``) are not streamed.

``FolderImages`` is the lazy image array training reads: ``x[rows]`` selects files, ``np.asarray``
decodes them (float32 N×48×48×1 in [0, 1], ``to_model_input``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_keras.data.container import RowTable, to_model_input
from fer_keras.data.hashing import Fingerprint, image_hashes
from fer_keras.data.io import converted_note, decode_images, existing_path, folder_files, image_chunks, readable_files
from fer_keras.data.labelsets import FER2013, LabelSet, get_label_set
from fer_keras.errors import FERDataError

STREAM_SAMPLINGS = ("none", "ros", "class_weight")
"""The balancing a streamed folder allows: choices of rows. SMOTE and augmentation make new pixels."""

INDEX_CHUNK = 1024
"""Images decoded at a time while indexing: the pixels held at once (2.3 MB at 48×48)."""


@dataclass(frozen=True, eq=False)
class FolderIndex(RowTable):
    """An image folder read once, without its pixels.

    root:       the folder; ``source_ids`` are the image paths relative to it.
    labels, usage, source_ids, source, notes, label_set: as in ``FERData`` (no ``probabilities``).
    digests:    16-byte BLAKE2b digest of each image's 48×48 grey pixels (``image_hashes``).
    means:      each image's mean pixel (float64), for the outlier rule.
    fingerprint: ``data_fingerprint`` of the whole folder, computed while it was read.
    """

    root: Path
    labels: np.ndarray
    usage: np.ndarray
    source_ids: np.ndarray
    digests: np.ndarray
    means: np.ndarray
    fingerprint: str
    source: str = ""
    notes: tuple = field(default=())
    label_set: LabelSet = FER2013
    probabilities = None  # hard labels only (a class attribute, not a field: subset and replace leave it)

    def content_hashes(self):
        return self.digests

    def pixel_means(self):
        return self.means

    def lazy_images(self):
        """The rows' images, lazily (:class:`FolderImages`)."""
        return FolderImages(self.root, self.source_ids)


def index_folder(root, chunk=INDEX_CHUNK, label_set=FER2013):
    """Read the image folder ``root`` once, ``chunk`` images at a time, into a :class:`FolderIndex`
    whose class folders name ``label_set``'s classes (a LabelSet or its name). Bad layouts raise
    ``FERDataError`` naming the folder; unreadable images are skipped and listed in the notes."""
    root, label_set = existing_path(root), get_label_set(label_set)
    files = folder_files(root, label_set)
    fingerprint, digests, means, converted, bad = Fingerprint(), [], [], 0, []
    for images, n, unreadable in image_chunks(root, files, chunk):
        fingerprint.update(images)
        digests.append(image_hashes(images))
        means.append(images.mean(axis=(1, 2)))
        converted, bad = converted + n, bad + unreadable
    files, skipped = readable_files(root, files, bad)
    labels = np.array([label for _, _, label in files], dtype=np.int64)
    return FolderIndex(root, labels, usage=np.array([split for _, split, _ in files], dtype=object),
                       source_ids=np.array([str(f.relative_to(root)) for f, _, _ in files], dtype=object),
                       digests=np.concatenate(digests), means=np.concatenate(means),
                       fingerprint=fingerprint.hexdigest(labels, label_set), source=str(root),
                       notes=skipped + converted_note(converted, len(files)), label_set=label_set)


class FolderImages:
    """A lazy float32 N×48×48×1 image array over files under ``root``: ``len``, ``x[rows]`` (the
    selected files, still lazy) and ``np.asarray(x)`` (decodes them, in order). Stateless: decoded
    pixels are not kept (``fer_keras.training.batches.EpochBatches`` may keep a bounded LRU of batches)."""

    def __init__(self, root, files):
        self.root, self.files = Path(root), np.asarray(files, dtype=object)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, rows):
        return FolderImages(self.root, self.files[rows])

    def decode(self):
        """The images as uint8 N×48×48."""
        images, _, bad = decode_images([self.root / name for name in self.files])
        if bad:
            raise FERDataError(f"{bad[0][1]} (it was readable when the folder was indexed; it changed during the run)")
        return images

    def __array__(self, dtype=None, copy=None):
        x = to_model_input(self.decode())
        return x if dtype is None else x.astype(dtype)
