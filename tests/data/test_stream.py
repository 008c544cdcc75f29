"""Image folders read from disk (``fer_keras.data.stream``, ``train --stream``): the same images,
labels, cleaning and splits as the in-memory loader, cross-split copies caught, a bounded cache."""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pytest

from fer_keras.training.batches import EpochBatches
from fer_keras.data.container import make_fer_data, to_model_input
from fer_keras.data.eda import clean
from fer_keras.data.hashing import data_fingerprint, image_hashes
from fer_keras.data.io import load_folder, write_csv, write_folder
from fer_keras.data.splits import split
from fer_keras.data.stream import index_folder
from fer_keras.data.synthetic import generate
from fer_keras.data.labelsets import AFFECTNET, FER2013
from fer_keras.data.pre_proc_data import pre_proc_data, pre_proc_stream
from fer_keras.training.train import recorded_test_split
from fer_keras.training.variants import FILTERED

from conftest import REPO


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """300 synthetic faces (planted duplicates and outliers included) as train/validation/test PNGs."""
    return write_folder(generate(n_samples=300, seed=3).data, tmp_path_factory.mktemp("data") / "faces")


def test_a_streamed_folder_holds_the_in_memory_images_labels_and_fingerprint(folder):
    data, index = load_folder(folder, cache=False), index_folder(folder, chunk=64)  # several chunks
    assert len(index) == len(data) == 300
    assert index.fingerprint == data.fingerprint
    assert (index.labels == data.labels).all() and (index.usage == data.usage).all()
    assert (index.source_ids == data.source_ids).all()
    assert (index.digests == image_hashes(data.images)).all()
    assert np.array_equal(index.means, data.images.mean(axis=(1, 2)))
    assert np.array_equal(np.asarray(index.lazy_images()[[5, 0, 299]]), to_model_input(data.images[[5, 0, 299]]))


def test_fer2013_fingerprints_are_those_from_before_label_sets(folder):
    data = load_folder(folder, cache=False)
    before = hashlib.sha256(data.images.tobytes())  # main's data_fingerprint before label sets
    before.update(data.labels.astype(np.int64).tobytes())
    assert data_fingerprint(data) == index_folder(folder).fingerprint == before.hexdigest()[:16]


@pytest.fixture(scope="module")
def affectnet_folder(tmp_path_factory):
    """Synthetic faces labelled in AffectNet's eight classes (contempt included), as class folders."""
    faces = generate(n_samples=240, seed=6).data
    labels = np.where(np.arange(len(faces)) % 9 == 0, 7, faces.labels)  # some contempt
    data = make_fer_data(faces.images, labels, faces.usage, label_set=AFFECTNET)
    return write_folder(data, tmp_path_factory.mktemp("affectnet") / "faces")


def test_a_streamed_folder_honours_its_label_set(affectnet_folder):
    data = load_folder(affectnet_folder, cache=False, label_set="affectnet")
    index = index_folder(affectnet_folder, chunk=64, label_set="affectnet")
    assert index.label_set is AFFECTNET and (index.labels == data.labels).all() and 7 in index.labels
    other_chunks = index_folder(affectnet_folder, chunk=32, label_set=AFFECTNET)
    assert index.fingerprint == data.fingerprint == other_chunks.fingerprint
    assert set(index.counts().columns) == set(AFFECTNET.classes) | {"total"}
    lazy, ready = pre_proc_stream(index, "class_weight", seed=2), pre_proc_data(data, "class_weight", seed=2)
    assert lazy.label_set is ready.label_set is AFFECTNET
    assert lazy.y_train.shape[1] == lazy.y_val.shape[1] == lazy.y_test.shape[1] == 8
    assert np.array_equal(lazy.y_train, ready.y_train) and np.array_equal(lazy.y_test, ready.y_test)
    assert lazy.class_weight == ready.class_weight
    # the same pixels and label numbers in FER2013's classes are another dataset: another fingerprint
    seven = data.subset(data.labels < 7)
    assert data_fingerprint(seven) != data_fingerprint(dataclasses.replace(seven, label_set=FER2013))


def test_cleaning_and_splitting_a_streamed_folder_keep_the_same_rows(folder):
    data, index = load_folder(folder, cache=False), index_folder(folder)
    for method in ("usage", "stratified"):
        on_disk, in_memory = split(clean(index, FILTERED), method, seed=1), split(clean(data, FILTERED), method, seed=1)
        for part in ("train", "val", "test"):
            assert (getattr(on_disk, part).source_ids == getattr(in_memory, part).source_ids).all(), (method, part)
    assert clean(index, FILTERED).notes == clean(data, FILTERED).notes
    assert len(clean(index, FILTERED)) < len(index)  # the planted copies and outliers were dropped


@pytest.mark.parametrize("sampling", ["ros", "class_weight"])
def test_streamed_batches_are_the_in_memory_batches(folder, sampling):
    data, index = load_folder(folder, cache=False), index_folder(folder)
    lazy, ready = pre_proc_stream(index, sampling, seed=2), pre_proc_data(data, sampling, seed=2)
    assert lazy.class_weight == ready.class_weight and lazy.x_train.__class__.__name__ == "FolderImages"
    assert np.array_equal(lazy.y_train, ready.y_train) and np.array_equal(lazy.x_test, ready.x_test)
    assert np.array_equal(np.asarray(lazy.x_val), ready.x_val)
    streamed, held = (EpochBatches(p.x_train, p.y_train, 32, seed=4) for p in (lazy, ready))
    for _ in range(2):  # two epochs, each in its own seeded order
        for i in range(len(held)):
            (xs, ys), (xh, yh) = streamed[i], held[i]
            assert np.array_equal(xs, xh) and np.array_equal(ys, yh)
        streamed.on_epoch_end(), held.on_epoch_end()


def test_a_test_image_copied_into_training_is_dropped_from_training_and_flagged(tmp_path):
    faces = generate(n_samples=120, seed=5).data
    faces = faces.subset(np.unique(image_hashes(faces.images), return_index=True)[1])  # no planted copies
    root = write_folder(faces, tmp_path / "faces")
    (test_file, *_) = sorted((root / "test").rglob("*.png"))
    copy = root / "train" / "happy" / "copy_of_a_test_image.png"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(test_file.read_bytes())
    index = index_folder(root)
    prepared = pre_proc_stream(index)
    train_ids = set(np.asarray(prepared.x_train.files).tolist())
    assert "train/happy/copy_of_a_test_image.png" not in train_ids
    assert len(train_ids) == (index.usage == "Training").sum() - 1
    assert any("dropped 1 train rows whose image occurs in a later split" in note for note in prepared.notes)
    recorded = recorded_test_split(prepared, index)
    assert recorded["ids"][recorded["in_training"]].tolist() == [str(test_file.relative_to(root))]


def test_the_validation_cache_never_holds_more_than_its_bound(folder):
    index = index_folder(folder)
    images, decodes = index.lazy_images(), []

    class Counting:  # the lazy array, counting what is decoded
        def __len__(self):
            return len(images)

        def __getitem__(self, rows):
            decodes.append(len(rows))
            return images[rows]

    batches = EpochBatches(Counting(), np.zeros((len(index), 7), np.float32), 32, shuffle=False, cache_batches=3)
    assert len(batches) == 10
    for _ in range(3):
        for i in [0, 1, 2, 0, 1, 2] + list(range(10)):
            x, _ = batches[i]
            assert np.array_equal(x, np.asarray(images[32 * i:32 * (i + 1)]))
            assert batches.decoded.cache_info().currsize <= 3
    info = batches.decoded.cache_info()
    assert info.maxsize == 3 and info.currsize == 3
    # each epoch decodes batches 0-2 (evicted by the last sweep) and reuses them twice, then decodes 3-9
    assert len(decodes) == info.misses == 3 * 10 and info.hits == 3 * 6
    assert max(decodes) <= 32  # each entry one batch: at most 3 × 32 × 48 × 48 × 4 bytes held


def train_cli(workdir, *args):
    return subprocess.run([sys.executable, "-m", "fer_keras.train", *args], cwd=workdir, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_a_streamed_run_trains_and_writes_the_usual_artefacts(tmp_path, folder):
    result = train_cli(tmp_path, "--variant", "baseline_cnn", "--data", str(folder), "--stream", "--epochs", "1",
                       "--fresh")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    assert {"best.keras", "history.csv", "config.json", "logs", "test_split.npz"} <= {p.name for p in run_dir.iterdir()}
    assert len(pd.read_csv(run_dir / "history.csv")) == 1
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["streamed"] is True and config["data"]["validation_cache_batches"] == 64
    assert config["data"]["fingerprint"] == load_folder(folder, cache=False).fingerprint
    recorded = np.load(run_dir / "test_split.npz")
    assert len(recorded["images"]) == config["prepared"]["test"] > 0
    metrics = json.loads((tmp_path / "results" / run_dir.name / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs_run"] == 1


@pytest.mark.slow
def test_a_streamed_run_with_a_label_set_trains_in_stages_on_the_cached_validation(tmp_path, affectnet_folder):
    result = train_cli(tmp_path, "--variant", "baseline_cnn", "--data", str(affectnet_folder), "--labels", "affectnet",
                       "--stream", "--stream-cache", "4", "--stages", "train:1,train:1", "--fresh")
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "callbacks").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"]["label_set"] == "affectnet" and len(config["data"]["classes"]) == 8
    assert config["data"]["streamed"] is True and config["data"]["validation_cache_batches"] == 4
    in_memory = load_folder(affectnet_folder, cache=False, label_set="affectnet")
    assert config["data"]["fingerprint"] == in_memory.fingerprint
    assert [s["data"] for s in config["stages"]] == ["train", "train"]
    assert config["stages"][0]["images"] == config["prepared"]["train"]
    history = pd.read_csv(run_dir / "history.csv")
    assert len(history) == 2 and history["stage"].tolist() == [1, 2]
    assert np.load(run_dir / "test_split.npz")["labels"].max() < 8


@pytest.fixture
def bad_layout(tmp_path):
    path = tmp_path / "faces" / "holdout" / "happy" / "a.png"
    path.parent.mkdir(parents=True)
    cv2.imwrite(str(path), np.zeros((48, 48), np.uint8))
    return path.parents[2]


@pytest.mark.parametrize("args, message", [
    (["--data", "{bad}", "--stream"], "holdout: unknown split folder; use train/, validation/ or test/"),
    (["--data", "{bad}"], "holdout: unknown split folder; use train/, validation/ or test/"),
    (["--data", "{csv}", "--stream"], "--stream reads an image folder ROOT/<split>/<class>/*.png, not"),
    (["--data", "{folder}", "--stream", "--stages", "train:1,train+val:1"],
     "--stream: stages train,train+val fit the validation split"),
    (["--data", "{folder}", "--stream", "--extra-train", "{folder}"], "--stream does not combine with --extra-train"),
    (["--data", "{folder}", "--stream", "--labels", "ferplus", "--ferplus-mode", "probability"],
     "--stream reads class folders ROOT/<split>/<class>/*.png; ferplus data load from their own label file"),
    (["--data", "{folder}", "--stream", "--labels", "rafdb"],
     "--stream reads class folders ROOT/<split>/<class>/*.png; rafdb data load from their own label file"),
    (["--data", "{folder}", "--stream", "--variant", "cnn_lstm_v1_regular_smote"],
     "--stream: variant 'cnn_lstm_v1_regular_smote' balances with smote, which needs every image in memory"),
    (["--data", "{folder}", "--stream", "--stream-cache", "-1"],
     "--stream-cache must be a whole number in [0, 100000], got -1"),
])
def test_what_streaming_cannot_read_is_one_line_exit_2_and_writes_nothing(tmp_path, bad_layout, folder, args, message):
    csv = write_csv(generate(n_samples=50, seed=1).data, tmp_path / "small.csv")
    args = [a.format(bad=bad_layout, csv=csv, folder=folder) for a in args]
    result = train_cli(tmp_path, *args, "--epochs", "1")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()
