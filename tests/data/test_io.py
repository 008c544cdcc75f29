"""The data layer: Kaggle CSV and image-folder loaders, the HDF5 cache, and bad-input errors."""

import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from fer_keras import EMOTIONS
from fer_keras.data import FERDataError, load, load_csv, load_folder, make_fer_data, write_csv
from fer_keras.data.io import _cache_file

from conftest import REPO, random_images

USAGES = ["Training"] * 6 + ["PublicTest"] * 2 + ["PrivateTest"] * 2


@pytest.fixture
def small():
    return make_fer_data(random_images(10), np.arange(10) % 7, USAGES)


def write_rows(path, rows, header="emotion,pixels,Usage"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def pixel_string(n=2304, value=7):
    return " ".join([str(value)] * n)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".csv.xz"])
def test_csv_roundtrip_plain_and_compressed(tmp_path, small, suffix):
    path = write_csv(small, tmp_path / f"fer{suffix}")
    data = load_csv(path, cache=False)
    assert np.array_equal(data.images, small.images)
    assert data.labels.tolist() == small.labels.tolist()
    assert data.usage.tolist() == USAGES
    assert data.source_ids[0] == "line 2"


def test_csv_inside_zip(tmp_path, small):
    csv = write_csv(small, tmp_path / "fer2013.csv")
    with zipfile.ZipFile(tmp_path / "fer2013.zip", "w") as archive:
        archive.write(csv, "fer2013.csv")
    assert np.array_equal(load_csv(tmp_path / "fer2013.zip", cache=False).images, small.images)


def test_csv_without_usage_column_has_no_split(tmp_path):
    path = write_rows(tmp_path / "x.csv", [f"3,{pixel_string()}"], header="emotion,pixels")
    data = load_csv(path, cache=False)
    assert data.usage.tolist() == [""] and data.labels.tolist() == [3]


def test_counts_table_per_split_and_emotion(small):
    table = small.counts()
    assert table.loc["Training", "total"] == 6 and table.loc["total", "total"] == 10
    assert list(table.columns[:7]) == list(EMOTIONS)


@pytest.mark.parametrize("rows, header, message", [
    ([f"3,{pixel_string()},Training", f"3,{pixel_string(2303)},Training"], None, "line 3: expected 2304 pixels"),
    ([f"3,{pixel_string()[:-1]}x,Training"], None, "line 2: pixel value 'x'"),
    ([f"3,{pixel_string(value=300)},Training"], None, "line 2: pixel value 300 is outside 0-255"),
    ([f"3,{pixel_string()},Training", "", "", f"3,{pixel_string(7)},Training"], None,
     "line 5: expected 2304 pixels"),  # blank lines are skipped but counted
    ([f"9,{pixel_string()},Training"], None, "line 2: emotion '9' is not a label 0-6"),
    ([f"happy,{pixel_string()},Training"], None, "line 2: emotion 'happy'"),
    ([f"3,{pixel_string()},Train"], None, "line 2: Usage 'Train' is not one of"),
    ([f"3,{pixel_string()}"], "label,pixels", "missing column(s) emotion"),
    ([], None, "has a header but no rows"),
])
def test_malformed_csv_names_file_and_line(tmp_path, rows, header, message):
    path = write_rows(tmp_path / "bad.csv", rows, header=header or "emotion,pixels,Usage")
    with pytest.raises(FERDataError, match=None) as caught:
        load_csv(path, cache=False)
    assert message in str(caught.value) and "bad.csv" in str(caught.value)


def test_a_binary_file_is_not_echoed_raw_into_the_error(tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"\x00" * 5000)
    with pytest.raises(FERDataError) as caught:
        load_csv(path, cache=False)
    message = str(caught.value)
    assert "\x00" not in message and "nul.csv" in message and len(message) < 400


def make_tree(root, layout):
    """layout: {relative_path: image array or bytes}."""
    for relative, content in layout.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            cv2.imwrite(str(path), content)
    return root


def test_folder_loader_converts_any_size_and_colour(tmp_path):
    grey = random_images(1)[0]
    colour = np.random.default_rng(1).integers(0, 256, size=(96, 120, 3), dtype=np.uint8)
    root = make_tree(tmp_path / "fer", {
        "train/happy/a.png": grey,
        "train/sad/b.jpg": colour,
        "test/happy/c.bmp": grey,
        "validation/angry/d.png": grey,
        "train/happy/notes.txt": b"ignored",
    })
    data = load_folder(root, cache=False)
    assert len(data) == 4 and data.images.shape == (4, 48, 48)
    assert sorted(zip(data.usage, data.labels)) == sorted(
        [("Training", 3), ("Training", 4), ("PrivateTest", 3), ("PublicTest", 0)])
    assert np.array_equal(data.images[list(data.source_ids).index(os.path.join("train", "happy", "a.png"))], grey)
    assert any("converted 1 of 4" in note for note in data.notes)


def test_folder_without_splits(tmp_path):
    root = make_tree(tmp_path / "flat", {"happy/a.png": random_images(1)[0], "fear/b.png": random_images(1)[0]})
    data = load(root, cache=False)
    assert sorted(data.labels.tolist()) == [2, 3] and set(data.usage) == {""}


@pytest.mark.parametrize("layout, message", [
    ({"train/happy/a.png": b"not an image"}, "not a readable image"),
    ({"train/joyful/a.png": np.zeros((48, 48), np.uint8)},
     "joyful: unknown class folder for label set fer2013; expected one of 0 angry"),
    ({"holdout/happy/a.png": np.zeros((48, 48), np.uint8)}, "unknown split folder"),
    ({"train/happy/readme.txt": b"x"}, "no images found"),
])
def test_bad_folders_are_named(tmp_path, layout, message):
    root = make_tree(tmp_path / "fer", layout)
    with pytest.raises(FERDataError, match=message):
        load_folder(root, cache=False)


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FERDataError, match="no sub-folders"):
        load(tmp_path / "empty")


def test_missing_path():
    with pytest.raises(FERDataError, match="no such file or folder"):
        load("does/not/exist.csv")


def test_cache_is_used_then_rebuilt_when_the_source_changes(tmp_path, small, monkeypatch):
    path = write_csv(small, tmp_path / "fer.csv")
    first = load_csv(path)
    assert _cache_file(path).exists()
    monkeypatch.setattr("fer_keras.data.io._parse_csv", lambda p: pytest.fail("cache not used"))
    assert np.array_equal(load_csv(path).images, first.images)
    monkeypatch.undo()
    changed = make_fer_data(small.images[:5], [1] * 5, USAGES[:5])
    write_csv(changed, path)
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse file systems
    assert load_csv(path).labels.tolist() == [1] * 5


def test_damaged_cache_is_rebuilt(tmp_path, small):
    path = write_csv(small, tmp_path / "fer.csv")
    load_csv(path)
    _cache_file(path).write_bytes(b"garbage")
    assert len(load_csv(path)) == 10


def corrupt_gzip(path, truncate=False):
    """A gzip whose deflate stream is invalid (zlib.error), or a valid one cut in half (EOFError)."""
    import gzip

    if truncate:
        rows = [f"{k % 7},{pixel_string(value=k)},Training" for k in range(40)]
        packed = gzip.compress(("emotion,pixels,Usage\n" + "\n".join(rows) + "\n").encode())
        path.write_bytes(packed[:len(packed) // 2])
    else:  # a gzip header, then a deflate block of the reserved type 3
        path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\x07" + bytes(64))
    return path


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_info_cli_prints_the_count_table(tmp_path, small):
    path = write_csv(small, tmp_path / "fer.csv")
    result = run_cli("fer_keras.data", "info", "--data", str(path), "--no-cache")
    assert result.returncode == 0, result.stderr
    assert "Training" in result.stdout and "PrivateTest" in result.stdout and str(path) in result.stdout


@pytest.mark.parametrize("make_input, message", [
    (lambda d: write_rows(d / "bad.csv", [f"3,{pixel_string(5)},Training"]), "line 2: expected 2304 pixels"),
    (lambda d: d / "missing.csv", "no such file or folder"),
    (lambda d: make_tree(d / "imgs", {"train/happy/x.png": b"\x89PNG broken"}), "not a readable image"),
    (lambda d: corrupt_gzip(d / "corrupt.csv.gz"), "cannot be read as a CSV (Error -3 while decompressing"),
    (lambda d: corrupt_gzip(d / "truncated.csv.gz", truncate=True), "cannot be read as a CSV (Compressed file ended"),
])
def test_info_cli_bad_input_is_one_line_and_exit_2(tmp_path, make_input, message):
    result = run_cli("fer_keras.data", "info", "--data", str(make_input(tmp_path)), "--no-cache")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.realdata
def test_real_fer2013_counts(fer2013):
    table = fer2013.counts()
    assert len(fer2013) == 35887
    assert table["total"].loc[["Training", "PublicTest", "PrivateTest"]].tolist() == [28709, 3589, 3589]
    assert table.loc["Training", list(EMOTIONS)].tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
