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


# --------------------------------------------------------------------------- issue 25 item 8
# The --set parser, the run-folder loader and the image decoder: any input gives a value or one
# FERError line, never another exception; the default tier is bounded (FUZZ), the slow tier runs more.

import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from dataclasses import fields  # noqa: E402

from fer_keras.constraints import CONSTRAINTS  # noqa: E402
from fer_keras.data.decode import decode_image  # noqa: E402
from fer_keras.errors import FERError  # noqa: E402
from fer_keras.training.recipes import RECIPES, Recipe, override  # noqa: E402
from fer_keras.runs.folder import CONFIG, HISTORY, TEST_SPLIT, Run  # noqa: E402
from fer_keras.runs.config import RunConfig  # noqa: E402

FUZZ_MORE = settings(FUZZ, max_examples=400)
"""The slow tier: the same properties, many more examples."""


def one_line(err):
    """The error's message is one printable line, as the CLIs print it."""
    message = str(err)
    assert message and "\n" not in message and "\r" not in message and "\x00" not in message, repr(message)
    assert not message.startswith("Traceback"), message


def gives_value_or_one_line(call, *args, errors=FERError):
    try:
        return call(*args)
    except errors as err:
        one_line(err)
        return None


# ----- --set: recipe fields and model.KEY=VALUE

RECIPE_KEYS = [f.name for f in fields(Recipe)]
NUMBERS = ["nan", "inf", "-inf", "1e400", "-1", "0", "1", "0.5", "1e9", "-0", "1_000", "0x10", "1e-400", "True",
           " 3 ", "3.", ".5", "٣", "²", "Infinity", "-nan", "1/2", ""]
set_values = st.one_of(st.sampled_from(NUMBERS), st.text(max_size=12),
                       st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.integers(-10**30, 10**30).map(str))
assignments = st.lists(st.one_of(
    st.tuples(st.sampled_from(RECIPE_KEYS + ["", "model.width", "learning-rate", "nam e"]), set_values).map("=".join),
    st.text(max_size=20)), min_size=1, max_size=4)


def assert_recipe_constrained(recipe):
    """What override accepted is a Recipe whose constrained numbers are finite and in range."""
    assert isinstance(recipe, Recipe)
    for name in CONSTRAINTS:
        value = getattr(recipe, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert math.isfinite(value) and CONSTRAINTS[name].holds(value), (name, value)


def check_set_parser(base, items):
    recipe = gives_value_or_one_line(override, RECIPES[base], items)
    if recipe is not None:
        assert_recipe_constrained(recipe)


@FUZZ
@given(base=st.sampled_from(sorted(RECIPES)), items=assignments)
def test_set_gives_a_constrained_recipe_or_one_line(base, items):
    check_set_parser(base, items)


@pytest.mark.slow
@FUZZ_MORE
@given(base=st.sampled_from(sorted(RECIPES)), items=assignments)
def test_set_gives_a_constrained_recipe_or_one_line_more(base, items):
    check_set_parser(base, items)


model_assignments = st.lists(st.one_of(
    st.tuples(st.sampled_from(["model.width", "model.dropout", "width", "model.input_shape", "model.", "model.x"]),
              st.one_of(set_values, st.sampled_from(["(1, 2)", "None", "[", "{}", "'a'", "1" * 5000, "()" * 200])))
    .map("=".join), st.text(max_size=20)), min_size=1, max_size=3)


@FUZZ
@given(items=model_assignments)
def test_model_set_gives_keyword_arguments_or_one_line(items):
    from fer_keras.models.registry import MODEL_BUILDERS, model_overrides

    name = sorted(MODEL_BUILDERS)[0]
    kwargs = gives_value_or_one_line(model_overrides, name, items)
    assert kwargs is None or isinstance(kwargs, dict)


# ----- the run-folder loader

def valid_config():
    return {"variant": {"name": "baseline_cnn"}, "data": {"source": "synthetic", "fingerprint": "abc"}, "seed": 0,
            "prepared": {}}


def valid_split(n=3):
    rng = np.random.default_rng(0)
    return {"images": rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), "labels": np.arange(n) % 7,
            "emotions": np.arange(n) % 7, "ids": np.array([f"line {i}" for i in range(n)]),
            "in_training": np.zeros(n, bool)}


def npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


VALID_NPZ = npz_bytes(valid_split())
VALID_HISTORY = b"epoch,accuracy,loss,val_accuracy,val_loss\n0,0.2,1.9,0.25,1.8\n1,0.3,1.7,0.3,1.7\n"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


@st.composite
def config_payloads(draw):
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "damaged"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "damaged":
        return damaged(json.dumps(valid_config()).encode(), draw(damage))
    config = valid_config()
    path = draw(st.sampled_from([("variant",), ("variant", "name"), ("data",), ("data", "source"),
                                 ("data", "fingerprint"), ("seed",), ("prepared",)]))
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(json_values)
    return json.dumps(config).encode()


dtypes = st.sampled_from(["u1", "i8", "f4", "f8", "b1", "U5", "S3", "c8", "O"])


@st.composite
def split_payloads(draw):
    kind = draw(st.sampled_from(["bytes", "damaged", "arrays", "arrays"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "damaged":
        return damaged(VALID_NPZ, draw(damage))
    arrays = valid_split(draw(st.integers(1, 4)))
    for key in draw(st.lists(st.sampled_from(sorted(arrays) + ["extra"]), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "dtype", "shape"]))
        if action == "drop":
            arrays.pop(key, None)
        elif action == "dtype":
            dtype = draw(dtypes)
            arrays[key] = (np.array([{"a": 1}, None], dtype=object) if dtype == "O"
                           else np.zeros(draw(st.lists(st.integers(0, 5), max_size=3)), dtype=dtype))
        else:
            shape = draw(st.lists(st.integers(0, 50), max_size=4))
            arrays[key] = np.zeros(shape, dtype=arrays.get(key, np.zeros(0)).dtype)
    return npz_bytes(arrays)


@st.composite
def history_payloads(draw):
    kind = draw(st.sampled_from(["bytes", "damaged", "text"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "damaged":
        return damaged(VALID_HISTORY, draw(damage))
    rows = draw(st.lists(st.lists(st.one_of(st.sampled_from(["", "nan", "inf", "1", "epoch", "x", '"']),
                                            st.text(max_size=5)), min_size=1, max_size=4), max_size=4))
    return "\n".join(",".join(row) for row in rows).encode("utf-8", "surrogatepass")


def read_run(folder, name, payload, read):
    """Write ``payload`` as the run's ``name`` file, read it back with ``read``: a value or one FERError
    line; the folder holds nothing new afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(payload)
    before = sorted(p.name for p in folder.iterdir())
    value = gives_value_or_one_line(read, Run(folder))
    assert sorted(p.name for p in folder.iterdir()) == before
    return value


def check_run_loader(folder, config, split, history):
    found = read_run(folder, CONFIG, config, Run.read_config)
    assert found is None or isinstance(found, RunConfig) and isinstance(found.variant["name"], str)
    arrays = read_run(folder, TEST_SPLIT, split, Run.read_test_split)
    if arrays is not None:
        n = len(arrays["images"])
        assert arrays["images"].shape == (n, 48, 48) and all(len(a) == n for a in arrays.values())
        assert all(a.dtype != object for a in arrays.values())
    read_run(folder, HISTORY, history, Run.read_history)


@FUZZ
@given(config=config_payloads(), split=split_payloads(), history=history_payloads())
def test_a_damaged_run_folder_reads_or_gives_one_line(tmp_path_factory, config, split, history):
    check_run_loader(tmp_path_factory.mktemp("fuzz_run"), config, split, history)


@pytest.mark.slow
@FUZZ_MORE
@given(config=config_payloads(), split=split_payloads(), history=history_payloads())
def test_a_damaged_run_folder_reads_or_gives_one_line_more(tmp_path_factory, config, split, history):
    check_run_loader(tmp_path_factory.mktemp("fuzz_run"), config, split, history)


def test_a_pickled_test_split_is_refused_in_one_line(tmp_path):
    (tmp_path / TEST_SPLIT).write_bytes(npz_bytes({**valid_split(), "ids": np.array([object(), "x", "y"])}))
    with pytest.raises(FERError, match="test_split.npz cannot be read") as caught:
        Run(tmp_path).read_test_split()
    one_line(caught.value)


# ----- the image decoder

def encoded_image(suffix, seed=0, size=24, colour=False):
    shape = (size, size, 3) if colour else (size, size)
    ok, data = cv2.imencode(suffix, np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8))
    assert ok
    return data.tobytes()


IMAGES = {suffix: encoded_image(suffix) for suffix in (".png", ".jpg", ".bmp")}


@st.composite
def image_payloads(draw):
    kind = draw(st.sampled_from(["bytes", "header", "header", "damaged", "prefix"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    image = IMAGES[draw(st.sampled_from(sorted(IMAGES)))]
    if kind == "prefix":  # a real signature, then garbage
        return image[:draw(st.integers(0, 40))] + draw(st.binary(max_size=200))
    if kind == "header":  # mutations confined to the header: sizes, chunk lengths, markers
        edits = draw(st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=6))
        data = bytearray(image)
        for at, value in edits:
            data[at] = value
        return bytes(data)
    return damaged(image, draw(damage))


def check_decoder(raw, grey, folder):
    image = gives_value_or_one_line(decode_image, raw, "upload.png", grey, errors=FERDataError)
    if image is not None:
        assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == (2 if grey else 3)
    path = folder / "face.png"
    path.write_bytes(raw)
    before = sorted(folder.iterdir())
    gives_value_or_one_line(decode_image, path, None, grey, errors=FERDataError)
    assert sorted(folder.iterdir()) == before


@FUZZ
@given(raw=image_payloads(), grey=st.booleans())
def test_the_image_decoder_decodes_or_gives_one_line(tmp_path_factory, raw, grey):
    check_decoder(raw, grey, tmp_path_factory.mktemp("fuzz_image"))


@pytest.mark.slow
@FUZZ_MORE
@given(raw=image_payloads(), grey=st.booleans())
def test_the_image_decoder_decodes_or_gives_one_line_more(tmp_path_factory, raw, grey):
    check_decoder(raw, grey, tmp_path_factory.mktemp("fuzz_image"))
