"""The one image decoder: every image the package reads (predict's photos and data URIs, image
folders, streamed folders, extra training faces) goes through :func:`decode_image`.

Before any pixel is decoded it checks what can be checked cheaply: the byte size (0 bytes, over
:data:`MAX_IMAGE_BYTES`), the format and canvas the header declares (Pillow reads only the header
on ``Image.open``; a small PNG declaring a 100 000 × 100 000 canvas — a decompression bomb — is
refused above :data:`MAX_IMAGE_PIXELS`), and, for PNG and JPEG, that the file is complete (its
``IEND`` chunk, an end-of-image marker after the first scan). OpenCV then decodes it. Every failure
is one :class:`FERDataError` line naming the file and what is wrong with it.

:func:`decode_batch` decodes many files, skipping and counting the bad ones; :func:`skipped_note`
lists them in one line.
"""

import io
import re
import warnings
from pathlib import Path

import numpy as np

from fer_keras.cli import lazy_import
from fer_keras.errors import FERDataError

cv2 = lazy_import("cv2")

MAX_IMAGE_BYTES = 128 * 2**20
"""Largest image file read (128 MiB; a 100-megapixel camera JPEG is about 40 MiB)."""
MAX_IMAGE_PIXELS = 2**26
"""Largest canvas decoded (67 megapixels, 8192 × 8192: 200 MB as BGR)."""
BOMB = " (a decompression bomb, or a huge photo); shrink it or leave it out"
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "PPM", "GIF")
"""The formats the header check accepts (what OpenCV decodes; PGM/PPM are Pillow's "PPM")."""


def read_bytes(path):
    """The bytes of the image file ``path``, size-checked; FERDataError naming the file otherwise."""
    path = Path(path)
    try:
        if not path.is_file():
            raise FERDataError(f"{_short(path)}: no such file")
        size = path.stat().st_size
        if size == 0:
            raise FERDataError(f"{_short(path)}: empty file (0 bytes); replace or delete it")
        if size > MAX_IMAGE_BYTES:
            raise FERDataError(f"{_short(path)}: {size / 2**20:.0f} MiB, above the {MAX_IMAGE_BYTES // 2**20} MiB "
                               "limit for an image; shrink it or leave it out")
        return path.read_bytes()
    except OSError as err:
        raise FERDataError(f"{_short(path)}: cannot be read ({err.strerror or err})") from None


def check_header(raw, name):
    """(format, width, height) the header of the encoded image ``raw`` declares; FERDataError if it
    is empty, unsupported, over the pixel limit or (PNG, JPEG) truncated. Decodes no pixel."""
    if len(raw) == 0:
        raise FERDataError(f"{name}: empty image (0 bytes)")
    if len(raw) > MAX_IMAGE_BYTES:
        raise FERDataError(f"{name}: {len(raw) / 2**20:.0f} MiB, above the {MAX_IMAGE_BYTES // 2**20} MiB limit "
                           "for an image")
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: our own limit is checked below
            with Image.open(io.BytesIO(raw)) as header:
                fmt, (width, height) = header.format, header.size
    except Image.DecompressionBombError as err:  # Pillow's own limit, far above ours: the size is in its message
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise FERDataError(f"{name}: declares a {int(found[1]) if found else 0:,}-pixel canvas, above the "
                           f"{MAX_IMAGE_PIXELS:,}-pixel limit{BOMB}") from None
    except Exception:  # noqa: BLE001 — Pillow's header parsers raise many kinds on garbage
        raise FERDataError(f"{name}: not a readable image (corrupt or unsupported format); "
                           "replace or delete it") from None
    if fmt not in FORMATS:
        raise FERDataError(f"{name}: {fmt} images are not supported; convert it to PNG or JPEG")
    if width * height > MAX_IMAGE_PIXELS:
        raise FERDataError(f"{name}: declares a {width} × {height} canvas, above the {MAX_IMAGE_PIXELS:,}-pixel "
                           f"limit{BOMB}")
    if width < 1 or height < 1:
        raise FERDataError(f"{name}: declares an empty {width} × {height} canvas")
    if fmt == "PNG" and raw.rfind(b"IEND") < 0 or fmt == "JPEG" and not _jpeg_complete(raw):
        raise FERDataError(f"{name}: truncated {fmt} (the file ends before the image does); replace or delete it")
    return fmt, width, height


def _jpeg_complete(raw):
    """Whether a JPEG has an end-of-image marker after its first start-of-scan (segments walked by
    their lengths, so an EXIF thumbnail's markers do not count)."""
    at = 2
    while at + 4 <= len(raw):
        if raw[at] != 0xFF:
            return False
        marker = raw[at + 1]
        if marker == 0xFF:
            at += 1
        elif marker == 0xDA:
            return raw.find(b"\xff\xd9", at) >= 0
        elif 0xD0 <= marker <= 0xD7 or marker == 0x01:
            at += 2
        else:
            at += 2 + int.from_bytes(raw[at + 2:at + 4], "big")
    return False


def decode_image(source, name=None, grey=False):
    """An encoded image — a file path, or its bytes with ``name`` for messages — as a uint8 array:
    BGR (H×W×3), or H×W with ``grey``; EXIF rotation applied, as ``cv2.imread`` does. Header checks
    first (:func:`check_header`); FERDataError naming the image if any fails or OpenCV cannot
    decode it."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw, name = bytes(source), name or "image"
    else:
        raw, name = read_bytes(source), name or _short(source)
    check_header(raw, name)
    try:
        image = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None:
        raise FERDataError(f"{name}: not a readable image (corrupt or unsupported format); replace or delete it")
    return image


def decode_batch(paths, decode, pool=None):
    """``decode(path)`` for each path (in ``pool``'s threads if given, the order kept), a bad image
    skipped: returns (results of the good ones, [(position, message)] of the bad ones)."""

    def attempt(path):
        try:
            return decode(path), None
        except FERDataError as err:
            return None, str(err)

    results = list((pool.map if pool else map)(attempt, paths))
    good = [value for value, error in results if error is None]
    return good, [(i, error) for i, (_, error) in enumerate(results) if error is not None]


def skipped_note(bad, shown=5):
    """One line listing skipped images (``bad``: messages), the first ``shown`` in full."""
    listed = "; ".join(bad[:shown]) + (f"; and {len(bad) - shown} more" if len(bad) > shown else "")
    return f"skipped {len(bad)} unreadable image(s): {listed}"


def _short(path, limit=200):
    """A file name for a one-line message: control characters escaped, cut to ``limit`` characters."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(path))
    return text if len(text) <= limit else text[:limit] + "…"
