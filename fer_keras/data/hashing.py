"""Exact image identity: one hash per image, so duplicates are found in O(N)."""

import hashlib

import numpy as np
import pandas as pd


def image_hashes(images):
    """An object array of 16-byte BLAKE2b digests, one per image; equal digests ⇔ identical pixels."""
    flat = np.ascontiguousarray(images).reshape(len(images), -1)
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat], dtype=object)


def duplicate_group_ids(images):
    """An int array: rows holding the same image share a group id (numbered in first-seen order)."""
    codes, _ = pd.factorize(image_hashes(images))
    return codes


def occurs_in(images, other_images):
    """A boolean mask over ``images``: True where the same image also occurs in ``other_images``."""
    others = set(image_hashes(other_images).tolist())
    return np.array([h in others for h in image_hashes(images)], dtype=bool)


def data_fingerprint(data):
    """A short content hash of a FERData's images and labels (their label set, when not FER2013's,
    and label distributions, when present): two runs on the same data share it."""
    digest = hashlib.sha256(data.images.tobytes())
    digest.update(data.labels.astype(np.int64).tobytes())
    if data.label_set.name != "fer2013":
        digest.update(data.label_set.name.encode())
    if data.probabilities is not None:
        digest.update(data.probabilities.astype(np.float32).tobytes())
    return digest.hexdigest()[:16]
