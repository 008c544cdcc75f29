"""Fuzzing the loaders: random damage to a valid CSV (plain and gzip) or image folder gives a loaded
dataset or one FERDataError line — never another exception. Bounded, so CI stays fast."""

import gzip

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_keras.data import load_csv, load_folder
from fer_keras.data.container import FERData
from fer_keras.errors import FERDataError

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def valid_csv(rows=6, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["emotion,pixels,Usage"]
    for k in range(rows):
        pixels = " ".join(map(str, rng.integers(0, 256, 2304)))
        lines.append(f"{k % 7},{pixels},{('Training', 'PublicTest', 'PrivateTest')[k % 3]}")
    return ("\n".join(lines) + "\n").encode()


damage = st.lists(st.tuples(st.sampled_from(["flip", "cut", "insert", "delete"]), st.floats(0, 1),
                            st.binary(min_size=1, max_size=8)), min_size=1, max_size=4)


def damaged(payload, edits):
    data = bytearray(payload)
    for kind, where, blob in edits:
        at = int(where * max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[at] ^= blob[0] or 0xFF
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = blob
        elif kind == "delete":
            del data[at:at + len(blob)]
    return bytes(data)


def loads_or_says_why(load, path):
    try:
        found = load(path, cache=False)
    except FERDataError as err:
        message = str(err)
        assert message and "\n" not in message and "\x00" not in message
        return None
    assert isinstance(found, FERData) and found.images.shape[1:] == (48, 48)
    return found


@FUZZ
@given(edits=damage, compressed=st.booleans())
def test_a_damaged_csv_loads_or_gives_one_clear_error(tmp_path_factory, edits, compressed):
    folder = tmp_path_factory.mktemp("fuzz_csv")
    payload = damaged(valid_csv(), edits)
    path = folder / ("faces.csv.gz" if compressed else "faces.csv")
    path.write_bytes(gzip.compress(payload) if compressed else payload)
    loads_or_says_why(load_csv, path)


@FUZZ
@given(edits=damage)
def test_a_damaged_gzip_stream_loads_or_gives_one_clear_error(tmp_path_factory, edits):
    path = tmp_path_factory.mktemp("fuzz_gz") / "faces.csv.gz"
    path.write_bytes(damaged(gzip.compress(valid_csv()), edits))
    loads_or_says_why(load_csv, path)


@pytest.fixture(scope="module")
def png():
    ok, encoded = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8))
    assert ok
    return encoded.tobytes()


@FUZZ
@given(edits=damage, name=st.sampled_from(["train/happy/a.png", "test/sad/b.png", "train/angry/c.jpg"]))
def test_a_folder_with_a_damaged_image_loads_or_gives_one_clear_error(tmp_path_factory, png, edits, name):
    root = tmp_path_factory.mktemp("fuzz_folder")
    for relative, content in {"train/happy/ok.png": png, "test/sad/ok.png": png, name: damaged(png, edits)}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    loads_or_says_why(load_folder, root)
