"""Image folders too large for memory: an index of the files read once, and images decoded per batch.

``index_folder(root)`` reads ``ROOT/<split>/<emotion>/*`` (the layouts of ``load_folder``) once,
1,024 images at a time, and keeps per image only its path, label, split, a 16-byte content digest
and its mean pixel: about 0.3 kB an image against 2.3 kB of pixels (9.2 kB as float32 model input).
The result, a :class:`FolderIndex`, is cleaned and split by the same functions as an in-memory
``FERData`` (``fer_keras.data.eda.clean``, ``fer_keras.data.splits.split``), which only look at the
digests and means: exact copies across splits are removed from the earlier split, and the run
records which test images have a copy in Training, as on the in-memory path. The fingerprint is the
in-memory one (``data_fingerprint`` of the same folder loaded whole).

``FolderImages`` is the lazy image array training reads: ``x[rows]`` selects files, ``np.asarray``
decodes them (float32 N×48×48×1 in [0, 1], ``to_model_input``).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_keras.data.container import RowTable, to_model_input
from fer_keras.data.hashing import Fingerprint, image_hashes
from fer_keras.data.io import _existing, converted_note, folder_files, image_chunks, read_images

STREAM_SAMPLINGS = ("none", "ros", "class_weight")
"""The balancing a streamed folder allows: choices of rows. SMOTE and augmentation make new pixels."""

INDEX_CHUNK = 1024
"""Images decoded at a time while indexing: the pixels held at once (2.3 MB at 48×48)."""


@dataclass(frozen=True, eq=False)
class FolderIndex(RowTable):
    """An image folder read once, without its pixels.

    root:       the folder; ``source_ids`` are the image paths relative to it.
    labels, usage, source_ids, source, notes: as in ``FERData``.
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

    def content_hashes(self):
        return self.digests

    def pixel_means(self):
        return self.means

    def lazy_images(self):
        """The rows' images, lazily (:class:`FolderImages`)."""
        return FolderImages(self.root, self.source_ids)


def index_folder(root, chunk=INDEX_CHUNK):
    """Read the image folder ``root`` once, ``chunk`` images at a time, into a :class:`FolderIndex`.
    Bad layouts and unreadable images raise ``FERDataError`` naming the folder or file."""
    root = _existing(root)
    files = folder_files(root)
    fingerprint, digests, means, converted = Fingerprint(), [], [], 0
    for images, n in image_chunks(root, files, chunk):
        fingerprint.update(images)
        digests.append(image_hashes(images))
        means.append(images.mean(axis=(1, 2)))
        converted += n
    labels = np.array([label for _, _, label in files], dtype=np.int64)
    return FolderIndex(root, labels, usage=np.array([split for _, split, _ in files], dtype=object),
                       source_ids=np.array([str(f.relative_to(root)) for f, _, _ in files], dtype=object),
                       digests=np.concatenate(digests), means=np.concatenate(means),
                       fingerprint=fingerprint.hexdigest(labels), source=str(root),
                       notes=converted_note(converted, len(files)))


class FolderImages:
    """A lazy float32 N×48×48×1 image array over files under ``root``: ``len``, ``x[rows]`` (the
    selected files, still lazy) and ``np.asarray(x)`` (decodes them, in order). Stateless: decoded
    pixels are not kept (``fer_keras.batches.EpochBatches`` may keep a bounded LRU of batches)."""

    def __init__(self, root, files):
        self.root, self.files = Path(root), np.asarray(files, dtype=object)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, rows):
        return FolderImages(self.root, self.files[rows])

    def decode(self):
        """The images as uint8 N×48×48."""
        return read_images([self.root / name for name in self.files])[0]

    def __array__(self, dtype=None, copy=None):
        x = to_model_input(self.decode())
        return x if dtype is None else x.astype(dtype)
