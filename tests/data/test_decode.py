"""The one image decoder (``fer_keras.data.decode``): limits checked from the header before any pixel
is decoded, empty / truncated / unsupported files named; in a batch, bad files are skipped, counted
and listed — on every path that reads images (predict, folders, streamed folders, extra faces)."""

import base64
import io
import os
import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest

from fer_keras.data import load_folder
from fer_keras.data.decode import check_header, decode_image
from fer_keras.data.extra import read_extra_faces
from fer_keras.data.hashing import data_fingerprint
from fer_keras.data.stream import index_folder
from fer_keras.errors import FERDataError

from conftest import REPO


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width=10_000, height=10_000):
    """A few hundred bytes that declare a ``width`` × ``height`` grey canvas."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + _chunk(b"IEND", b""))


def encoded(suffix=".png", seed=0, size=48):
    image = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    ok, data = cv2.imencode(suffix, image)
    assert ok
    return data.tobytes()


def ico():
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (16, 16)).save(out, format="ICO")
    return out.getvalue()


BAD = {
    "empty.png": (b"", "empty file (0 bytes)"),
    "bomb.png": (bomb_png(), "declares a 10000 × 10000 canvas, above the 67,108,864-pixel limit"),
    "giant.png": (bomb_png(1_000_000, 1_000_000), "declares a 1,000,000,000,000-pixel canvas, above the 67,108,864"),
    "cut.png": (encoded(".png")[:-30], "truncated PNG"),
    "cut.jpg": (encoded(".jpg", size=64)[:-200], "truncated JPEG"),
    "icon.png": (ico(), "ICO images are not supported; convert it to PNG or JPEG"),
    "noise.png": (np.random.default_rng(0).bytes(3000), "not a readable image (corrupt or unsupported format)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_image_is_one_line_naming_it(tmp_path, name):
    content, message = BAD[name]
    (tmp_path / name).write_bytes(content)
    for source in (tmp_path / name, content):
        with pytest.raises(FERDataError) as caught:
            decode_image(source, None if isinstance(source, os.PathLike) else name)
        text = str(caught.value)
        assert text.startswith(f"{tmp_path / name}:" if isinstance(source, os.PathLike) else f"{name}:")
        assert "\n" not in text and (message in text or (not content and "empty" in text)), text


def test_good_images_decode_as_opencv_does(tmp_path):
    for suffix in (".png", ".jpg", ".bmp", ".tiff", ".webp"):
        content = encoded(suffix, size=60)
        (tmp_path / f"a{suffix}").write_bytes(content)
        expected = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(decode_image(tmp_path / f"a{suffix}"), expected)
        assert np.array_equal(decode_image(content, grey=True), cv2.imdecode(np.frombuffer(content, np.uint8), 0))
    assert check_header(encoded(".png", size=60), "x") == ("PNG", 60, 60)


def test_the_limits_are_checked_before_decoding(monkeypatch):
    import fer_keras.data.decode as decode

    monkeypatch.setattr(decode, "MAX_IMAGE_PIXELS", 47 * 47)
    with pytest.raises(FERDataError, match="declares a 48 × 48 canvas, above the 2,209-pixel limit"):
        decode_image(encoded(".png"))
    monkeypatch.setattr(decode, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(FERDataError, match="above the 0 MiB limit"):
        decode_image(encoded(".png"))


def test_an_over_long_name_is_one_line():
    with pytest.raises(FERDataError, match=r"cannot be read \(File name too long\)|no such file"):
        decode_image("x" * 5000 + ".png")


def make_tree(root, files):
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return root


def good_and_bad_tree(root):
    return make_tree(root, {"train/happy/a.png": encoded(seed=1), "train/sad/b.png": encoded(seed=2),
                            "test/happy/c.png": encoded(seed=3), "train/happy/bomb.png": bomb_png(),
                            "test/sad/empty.png": b""})


def test_a_folder_skips_counts_and_lists_bad_images(tmp_path):
    root = good_and_bad_tree(tmp_path / "faces")
    for data in (load_folder(root, cache=False), index_folder(root)):
        assert sorted(data.source_ids) == sorted(os.path.join(*p.split("/")) for p in
                                                 ("train/happy/a.png", "train/sad/b.png", "test/happy/c.png"))
        (note,) = [n for n in data.notes if n.startswith("skipped")]
        assert note.startswith("skipped 2 unreadable image(s): ") and "bomb.png: declares" in note
        assert "empty.png: empty file" in note
    assert index_folder(root).fingerprint == data_fingerprint(load_folder(root, cache=False))


def test_a_folder_of_only_bad_images_is_one_error(tmp_path):
    root = make_tree(tmp_path / "faces", {"train/happy/bomb.png": bomb_png(), "train/sad/e.png": b""})
    with pytest.raises(FERDataError, match=r"none of its 2 image\(s\) could be read \(.*bomb.png: declares"):
        load_folder(root, cache=False)


def test_extra_faces_skip_and_count_bad_photos(tmp_path):
    root = make_tree(tmp_path / "extra", {"happy/a.png": encoded(seed=1), "sad/bomb.png": bomb_png(),
                                          "sad/cut.jpg": BAD["cut.jpg"][0]})
    extra = read_extra_faces(root, detect=False)
    assert extra.paths.tolist() == [os.path.join("happy", "a.png")] and len(extra.unreadable) == 2
    from fer_keras.data.extra import add_extra_faces
    from fer_keras.data.synthetic import generate

    train = generate(n_samples=80, seed=0).data
    _, counts = add_extra_faces(train, extra, train.images[:1])
    assert counts["unreadable"] == 2 and counts["added"] == 1


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", *map(str, args)], capture_output=True, text=True, timeout=300,
                          cwd=cwd or REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_data_info_skips_a_bomb_among_good_images_and_refuses_only_bombs(tmp_path):
    ok = run("fer_keras.data", "info", "--data", good_and_bad_tree(tmp_path / "mixed"), "--no-cache")
    assert ok.returncode == 0 and "Traceback" not in ok.stderr, ok.stderr[-2000:]
    assert "skipped 2 unreadable image(s)" in ok.stdout + ok.stderr
    only = make_tree(tmp_path / "bombs", {"train/happy/bomb.png": bomb_png()})
    bad = run("fer_keras.data", "info", "--data", only, "--no-cache")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "bomb.png: declares a 10000 × 10000 canvas" in bad.stderr


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3, strides=4)(inputs))
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x)).save(path)
    return path


@pytest.mark.slow
def test_predict_skips_bad_images_lists_them_and_reads_a_data_uri(tmp_path, tiny_model):
    photo = tmp_path / "photo.png"
    photo.write_bytes(encoded(size=96))
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    (tmp_path / "empty.png").write_bytes(b"")
    uri = "data:image/png;base64," + base64.b64encode(encoded(seed=5, size=96)).decode()
    result = run("fer_keras.predict", "--model", tiny_model, tmp_path / "bomb.png", photo, uri,
                 tmp_path / "empty.png", "x" * 4000 + ".png", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "3 input(s) read" not in result.stderr and "2 input(s) read" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("skipped 3 input(s): ") and "bomb.png" in last and "empty.png" in last
    assert "no face found in data-uri-3" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.png", "empty.png", "photo.png"]


@pytest.mark.slow
def test_predict_exits_2_when_every_image_is_bad(tmp_path, tiny_model):
    (tmp_path / "bomb.png").write_bytes(bomb_png())
    result = run("fer_keras.predict", "--model", tiny_model, tmp_path / "bomb.png", "data:image/png;base64,AAAA")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: no input could be read" in result.stderr and "skipped 2 input(s)" in result.stderr
