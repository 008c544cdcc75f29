"""Exact image identity: one hash per image, so duplicates are found in O(N)."""

import hashlib

import numpy as np

from fer_keras.cli import lazy_import

pd = lazy_import("pandas")


def image_hashes(images):
    """An object array of 16-byte BLAKE2b digests, one per image; equal digests ⇔ identical pixels."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype=object)


def group_ids(hashes):
    """An int array: rows with the same digest share a group id (numbered in first-seen order)."""
    codes, _ = pd.factorize(np.asarray(hashes, dtype=object))
    return codes


def hashes_in(hashes, other_hashes):
    """A boolean mask over ``hashes``: True where the digest also occurs in ``other_hashes``."""
    others = set(np.asarray(other_hashes, dtype=object).tolist())
    return np.array([h in others for h in hashes], dtype=bool)


def duplicate_group_ids(images):
    """An int array: rows holding the same image share a group id (numbered in first-seen order)."""
    return group_ids(image_hashes(images))


def occurs_in(images, other_images):
    """A boolean mask over ``images``: True where the same image also occurs in ``other_images``."""
    return hashes_in(image_hashes(images), image_hashes(other_images))


class Fingerprint:
    """:func:`data_fingerprint` computed chunk by chunk: :meth:`update` with the images in row
    order, then :meth:`hexdigest` with all the labels (and the label set, label distributions).
    Equal to the one-array fingerprint."""

    def __init__(self):
        self.digest = hashlib.sha256()

    def update(self, images):
        self.digest.update(np.ascontiguousarray(images).tobytes())

    def hexdigest(self, labels, label_set=None, probabilities=None):
        """The fingerprint: ``labels`` hashed after the images, then ``label_set``'s name when it is
        not FER2013's (so FER2013 data keep the fingerprint they had before label sets), then
        ``probabilities`` when given."""
        self.digest.update(np.asarray(labels).astype(np.int64).tobytes())
        if label_set is not None and label_set.name != "fer2013":
            self.digest.update(label_set.name.encode())
        if probabilities is not None:
            self.digest.update(np.asarray(probabilities).astype(np.float32).tobytes())
        return self.digest.hexdigest()[:16]


def data_fingerprint(data):
    """A short content hash of a FERData's images and labels (their label set, when not FER2013's,
    and label distributions, when present): two runs on the same data share it."""
    fingerprint = Fingerprint()
    fingerprint.update(data.images)
    return fingerprint.hexdigest(data.labels, data.label_set, data.probabilities)
