"""Read FER2013 from Kaggle's CSV or from image folders into a `FERData`, with an HDF5 cache.

Accepted sources:
  * Kaggle CSV ``emotion,pixels,Usage`` (``Usage`` optional), plain or ``.gz`` / ``.xz`` / ``.zip``;
  * image folders ``ROOT/<split>/<emotion>/*.png|jpg|jpeg|bmp`` (``train``, ``test``, optional
    ``validation``), or ``ROOT/<emotion>/*`` without splits; any size or colour is converted to
    48×48 grey with ``cv2.INTER_AREA``. The class folders are named in a label set's words (its
    class names, canonical names or codes; FER2013's by default, see ``fer_keras.data.labelsets``).
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from fer_keras import EMOTIONS, IMAGE_SIZE
from fer_keras.cli import lazy_import
from fer_keras.data.container import SPLITS, FERData
from fer_keras.data.decode import decode_batch, decode_image, skipped_note
from fer_keras.data.labelsets import FER2013, LABEL_SETS, get_label_set
from fer_keras.errors import FERDataError
from fer_keras.files import atomic_write

cv2, h5py, pd = lazy_import("cv2"), lazy_import("h5py"), lazy_import("pandas")

N_PIXELS = IMAGE_SIZE * IMAGE_SIZE
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
SPLIT_FOLDERS = {
    "train": "Training", "training": "Training",
    "validation": "PublicTest", "val": "PublicTest", "valid": "PublicTest", "publictest": "PublicTest",
    "test": "PrivateTest", "privatetest": "PrivateTest",
}
CACHE_ENV = "FER_KERAS_CACHE"


DECOMPRESSION_ERRORS = (zlib.error, lzma.LZMAError, zipfile.BadZipFile, EOFError, OSError)
"""What a corrupt or truncated .gz / .xz / .bz2 / .zip raises while it is read (zlib's error is no OSError)."""


def _line(i):
    """The file line of data row ``i`` (the header is line 1)."""
    return i + 2


# --------------------------------------------------------------------------- CSV


def load_csv(path, cache=True):
    """Read a Kaggle FER2013 CSV (``emotion,pixels[,Usage]``, optionally compressed)."""
    path = existing_path(path)
    return cached(path, _parse_csv, cache)


def _parse_csv(path):
    """Fast streaming parse for Kaggle's own layout; the general pandas path for anything else,
    and to name the exact bad line when the fast path meets malformed data."""
    try:
        data = _parse_kaggle_layout(path)
    except (ValueError, UnicodeDecodeError, *DECOMPRESSION_ERRORS):
        data = None
    return data if data is not None else _parse_csv_general(path)


class _KaggleRows:
    """Converters for ``np.loadtxt`` reading a Kaggle row split on spaces.

    Split on spaces, the row ``6,70 80 … 12,Training`` has exactly 2304 tokens: the first holds
    the label and pixel 0, the last pixel 2303 and the Usage. These two converters peel the label
    and Usage off while C code parses every pixel in between.
    """

    def __init__(self):
        self.labels, self.usage = [], []

    def first(self, token):
        label, _, pixel = token.partition(",")
        self.labels.append(label)
        return int(pixel.strip('"'))

    def last(self, token):
        pixel, _, usage = token.partition(",")
        self.usage.append(usage.strip())
        return int(pixel.strip('"'))


def _open_text(path):
    suffix = path.suffix.lower()
    if suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.namelist() if not m.endswith("/")]
        if len(members) != 1:
            raise ValueError("zip must hold exactly one CSV")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8")
    opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}.get(suffix, open)
    return opener(path, "rt", encoding="utf-8")


def _parse_kaggle_layout(path):
    """Parse ``emotion,pixels[,Usage]`` at C speed, streaming; None for any other header."""
    with _open_text(path) as handle:
        header = handle.readline().strip().replace('"', "")
        if header not in ("emotion,pixels,Usage", "emotion,pixels"):
            return None
        rows = _KaggleRows()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": handled below
            pixels = np.loadtxt(handle, dtype=np.uint8, delimiter=" ", ndmin=2,
                                converters={0: rows.first, N_PIXELS - 1: rows.last})
    if pixels.shape[1] != N_PIXELS or len(pixels) == 0:
        return None
    labels = _parse_labels(path, pd.Series(rows.labels))
    usage = _parse_usage(path, pd.Series(rows.usage)) if header.endswith("Usage") else np.full(len(labels), "", object)
    ids = np.array([f"line {_line(i)}" for i in range(len(labels))], dtype=object)
    images = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return FERData(images, labels, usage, ids, source=str(path))


def _parse_csv_general(path):
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, *DECOMPRESSION_ERRORS) as err:
        raise FERDataError(f"{path}: cannot be read as a CSV ({_first_line(err)})") from None
    missing = [c for c in ("emotion", "pixels") if c not in frame.columns]
    if missing:
        raise FERDataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected Kaggle's header "
            f"'emotion,pixels,Usage', found {_printable(','.join(frame.columns)) or 'nothing'}"
        )
    frame = frame[(frame != "").any(axis=1)]  # blank lines are skipped, but counted in the line numbers
    if frame.empty:
        raise FERDataError(f"{path}: has a header but no rows")
    lines = frame.index.to_numpy() + 2  # the header is line 1
    frame = frame.reset_index(drop=True)
    labels = _parse_labels(path, frame["emotion"], lines)
    images = _parse_pixels(path, frame["pixels"], lines)
    usage = (_parse_usage(path, frame["Usage"], lines) if "Usage" in frame.columns
             else np.full(len(frame), "", object))
    ids = np.array([f"line {line}" for line in lines], dtype=object)
    return FERData(images, labels, usage, ids, source=str(path))


def _parse_labels(path, column, lines=None):
    lines = _lines(column, lines)
    numbers = pd.to_numeric(column.str.strip(), errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0) | (numbers < 0) | (numbers >= len(EMOTIONS))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise FERDataError(
            f"{path}: line {lines[i]}: emotion {column.iloc[i]!r} is not a label 0-6 "
            f"({', '.join(f'{k} {e}' for k, e in enumerate(EMOTIONS))})"
        )
    return numbers.to_numpy(dtype=np.int64)


def _parse_pixels(path, column, lines=None):
    """Parse all pixel strings at C speed; on any inconsistency find the first bad row exactly."""
    lines = _lines(column, lines)
    text = column.str.strip()
    counts = np.fromiter((row.count(" ") + 1 for row in text), dtype=np.int64, count=len(text))
    flat = np.empty(0)
    if (counts == N_PIXELS).all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                flat = np.fromstring(" ".join(text), dtype=np.int32, sep=" ")
            except ValueError:
                pass  # non-numeric text: the slow path below names the row
        if flat.size == len(text) * N_PIXELS and flat.min() >= 0 and flat.max() <= 255:
            return flat.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    for i, row in enumerate(text):  # slow path: only reached when something is wrong
        values = row.split()
        if len(values) != N_PIXELS:
            raise FERDataError(
                f"{path}: line {lines[i]}: expected {N_PIXELS} pixels (48×48), got {len(values)}; "
                "each row holds space-separated integers 0-255"
            )
        try:
            numbers = np.array(values, dtype=np.int64)
        except ValueError:
            bad = next(v for v in values if not v.lstrip("-").isdigit())
            raise FERDataError(f"{path}: line {lines[i]}: pixel value {_printable(bad)!r} is not an integer "
                               "0-255") from None
        if numbers.min() < 0 or numbers.max() > 255:
            bad = int(numbers[(numbers < 0) | (numbers > 255)][0])
            raise FERDataError(f"{path}: line {lines[i]}: pixel value {bad} is outside 0-255")
    raise FERDataError(f"{path}: pixel column could not be parsed")  # pragma: no cover


def _parse_usage(path, column, lines=None):
    lines = _lines(column, lines)
    usage = column.str.strip().to_numpy(dtype=object)
    bad = ~np.isin(usage, SPLITS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FERDataError(
            f"{path}: line {lines[i]}: Usage {_printable(usage[i])!r} is not one of {', '.join(SPLITS)}"
        )
    return usage


def write_csv(data, path):
    """Write ``data`` as a Kaggle CSV (``emotion,pixels,Usage``); atomic: no partial file on failure."""
    path = Path(path)
    flat = data.images.reshape(len(data), -1)
    frame = pd.DataFrame({
        "emotion": data.labels,
        "pixels": [" ".join(map(str, row)) for row in flat.tolist()],
        "Usage": data.usage,
    })
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False, compression="infer"))
    return path


# --------------------------------------------------------------------------- folders


def load_folder(root, cache=True, label_set=FER2013):
    """Read ``ROOT/<split>/<class>/*`` (or ``ROOT/<class>/*``) image folders whose class folders
    name ``label_set``'s classes (a LabelSet or its name; FER2013's emotions by default)."""
    root, label_set = existing_path(root), get_label_set(label_set)
    return cached(root, partial(_read_folder, label_set=label_set), cache, label_set)


def folder_files(root, label_set=FER2013):
    """List (path, split, label) for every image, in a fixed order, validating folder names: the
    class folders name ``label_set``'s classes (see ``folder_layout``)."""
    files = []
    for split, class_dir in folder_layout(root, label_set):
        label = label_set.label_of(class_dir.name)
        files += [(f, split, label) for f in sorted(class_dir.iterdir())
                  if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".")]
    if not files:
        raise FERDataError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return files


def folder_layout(root, label_set=FER2013):
    """The (split, class folder) pairs of an image folder, its names checked against ``label_set``'s
    classes (its class names, canonical names or codes); lists no image, so a CLI checks a folder
    with it before any slow work."""
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise FERDataError(f"{root}: no sub-folders; expected ROOT/<split>/<emotion>/*.png or ROOT/<emotion>/*.png")
    if all(label_set.label_of(p.name) is not None for p in subdirs):
        layout = [("", p) for p in subdirs]
    else:
        layout = []
        for split_dir in subdirs:
            split = SPLIT_FOLDERS.get(split_dir.name.lower())
            if split is None:
                raise FERDataError(
                    f"{split_dir}: unknown split folder; use train/, validation/ or test/ "
                    f"(or put emotion folders directly under {root})"
                )
            layout += [(split, p) for p in sorted(split_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    for _, class_dir in layout:
        if label_set.label_of(class_dir.name) is None:
            raise FERDataError(
                f"{class_dir}: unknown class folder for label set {label_set.name}; expected one of "
                f"{label_set.describe()} (or --labels {'|'.join(LABEL_SETS)} for another dataset's classes)")
    return layout


def _read_image(path):
    image = decode_image(path, grey=True)
    if image.shape == (IMAGE_SIZE, IMAGE_SIZE):
        return image, False
    return cv2.resize(image, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA), True


def decode_images(paths, pool=None):
    """Decode ``paths`` into uint8 N×48×48 (``fer_keras.data.decode``, then 48×48 grey); returns
    (images of the readable ones, converted count, [(position, message)] of the unreadable ones,
    skipped). ``pool``: a ``ThreadPoolExecutor`` to decode in parallel (the order is kept)."""
    results, bad = decode_batch(paths, _read_image, pool)
    images = np.stack([image for image, _ in results]) if results else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return images, sum(flag for _, flag in results), bad


def image_chunks(root, files, chunk=1024):
    """Decode ``files`` (a list of (image path under ``root``, split, label), e.g. ``folder_files(root)``)
    in order, ``chunk`` at a time: yields (uint8 images, converted count, [(position in ``files``,
    message)] of unreadable files, skipped) per chunk, so a reader holds one chunk of pixels at a
    time; a progress bar from 2,000 images on."""
    with (ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool,
          tqdm(total=len(files), desc=f"reading {root.name}", unit="img", disable=len(files) < 2000) as bar):
        for start in range(0, len(files), chunk):
            images, converted, bad = decode_images([f for f, _, _ in files[start:start + chunk]], pool)
            bar.update(len(images) + len(bad))
            yield images, converted, [(start + i, message) for i, message in bad]


def readable_files(root, files, bad):
    """``files`` without the unreadable ones (``bad``: [(position, message)]), and the notes saying
    which were skipped; a FERDataError when none could be read."""
    if len(bad) == len(files):
        raise FERDataError(f"{root}: none of its {len(files)} image(s) could be read ({bad[0][1]})")
    skipped = {i for i, _ in bad}
    kept = [f for i, f in enumerate(files) if i not in skipped]
    return kept, ((skipped_note([message for _, message in bad]),) if bad else ())


def converted_note(converted, total):
    return (f"converted {converted} of {total} images to 48×48 grey",) if converted else ()


def read_images(root, files, label_set=FER2013):
    """A FERData of ``files``, a list of (image path under ``root``, split, label), read in threads
    (``image_chunks``) and converted to 48×48 grey; unreadable images are skipped, and listed in the
    notes (a FERDataError if none is readable)."""
    chunks = list(image_chunks(root, files))
    images = (np.concatenate([images for images, _, _ in chunks]) if chunks
              else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8))
    converted = sum(n for _, n, _ in chunks)
    files, skipped = readable_files(root, files, [b for _, _, bad in chunks for b in bad])
    return FERData(
        images=images,
        labels=np.array([label for _, _, label in files], dtype=np.int64),
        usage=np.array([split for _, split, _ in files], dtype=object),
        source_ids=np.array([str(f.relative_to(root)) for f, _, _ in files], dtype=object),
        source=str(root),
        notes=skipped + converted_note(converted, len(files)),
        label_set=label_set,
    )


def _read_folder(root, label_set=FER2013):
    return read_images(root, folder_files(root, label_set), label_set)


WRITTEN_SPLIT_FOLDERS = {"Training": "train", "PublicTest": "validation", "PrivateTest": "test", "": ""}


def write_folder(data, root):
    """Write ``data`` as the image folder ``ROOT/<split>/<class>/<row>.png`` (``train``,
    ``validation``, ``test``; rows without a split go to ``ROOT/<class>/``), one lossless PNG a row,
    named by its row number; the class folders are named by ``data.label_set``'s classes, so
    ``load_folder(root, label_set=data.label_set)`` reads the same rows back. Returns ``root``."""
    root = Path(root)
    width = len(str(len(data)))
    classes = data.label_set.classes
    for row, (image, label, usage) in enumerate(zip(data.images, data.labels, data.usage)):
        folder = root / WRITTEN_SPLIT_FOLDERS[usage] / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        png = cv2.imencode(".png", image)[1].tobytes()
        atomic_write(folder / f"{row:0{width}d}.png", lambda tmp: Path(tmp).write_bytes(png))  # whole files only
    return root


# --------------------------------------------------------------------------- cache


def cache_dir():
    """Where HDF5 caches live: ``$FER_KERAS_CACHE`` or ``~/.cache/fer_keras``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "fer_keras")


def _fingerprint(path):
    """Size and mtime of a file, or of every file under a folder."""
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    digest = hashlib.sha1()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            stat = os.stat(os.path.join(dirpath, name))
            digest.update(f"{dirpath}/{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


def _cache_file(path, label_set=FER2013):
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    tag = "" if label_set is FER2013 else f".{label_set.name}"
    return cache_dir() / f"{path.name}.{key}{tag}.h5"


def cached(path, read, cache, label_set=FER2013):
    """``read(path)``, through an HDF5 copy that is rebuilt when ``path`` changes (one per label set)."""
    if not cache:
        return read(path)
    fingerprint = _fingerprint(path)
    cache_file = _cache_file(path, label_set)
    if cache_file.exists():
        try:
            with h5py.File(cache_file, "r") as h5:
                if h5.attrs.get("fingerprint") == fingerprint:
                    return FERData(
                        images=h5["images"][()],
                        labels=h5["labels"][()].astype(np.int64),
                        usage=h5["usage"].asstr()[()].astype(object),
                        source_ids=h5["source_ids"].asstr()[()].astype(object),
                        source=str(path),
                        notes=tuple(h5.attrs.get("notes", ())),
                        label_set=label_set,
                    )
        except (OSError, KeyError):
            pass  # a damaged cache is rebuilt below
    data = read(path)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache_file, lambda tmp: _write_h5(tmp, data, fingerprint))
    except OSError as err:
        warnings.warn(f"could not write cache {cache_file}: {err}", stacklevel=2)
    return data


def _write_h5(path, data, fingerprint):
    strings = h5py.string_dtype()
    with h5py.File(path, "w") as h5:
        h5.create_dataset("images", data=data.images)
        h5.create_dataset("labels", data=data.labels.astype(np.int8))
        h5.create_dataset("usage", data=data.usage.astype(str).astype(object), dtype=strings)
        h5.create_dataset("source_ids", data=data.source_ids.astype(str).astype(object), dtype=strings)
        h5.attrs["fingerprint"] = fingerprint
        h5.attrs["notes"] = list(data.notes)


# --------------------------------------------------------------------------- helpers


def existing_path(path):
    """``path`` (user home expanded) if it exists; a FERDataError naming what to pass otherwise."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FERDataError(
            f"{path}: no such file or folder; pass a Kaggle CSV (.csv, .csv.gz, .csv.xz, .zip), "
            "an image folder, or 'synthetic'"
        )
    return path


def _first_line(err):
    return _printable(str(err).strip().splitlines()[0]) if str(err).strip() else type(err).__name__


def _printable(text, limit=120):
    """``text`` with control characters (NUL bytes of a binary file, …) escaped, cut at ``limit``."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(text))
    return text if len(text) <= limit else text[:limit] + "…"


def _lines(column, lines):
    """The file line of each row: given, or the header's line 1 plus the row number (no blank lines)."""
    return lines if lines is not None else np.arange(len(column)) + 2
