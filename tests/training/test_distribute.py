"""Data-parallel training (``fer_keras.training.distribute``) on 2 virtual CPU devices, each case in a fresh
process so that the host is split before the backend starts: JAX with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``, TensorFlow with ``FER_KERAS_VIRTUAL_CPUS=2``
(two logical CPU devices)."""

import importlib.util
import json
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate

from conftest import REPO

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)

TWO_DEVICES = {"jax": {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
               "tensorflow": {"KERAS_BACKEND": "tensorflow", "FER_KERAS_VIRTUAL_CPUS": "2"}}


def backend_param(backend, *rest):
    """A parametrize entry that skips when the backend's package is not installed (the ``[test]`` extra
    installs JAX, so CI runs both)."""
    missing = importlib.util.find_spec(backend) is None
    return pytest.param(backend, *rest, marks=pytest.mark.skipif(missing, reason=f"{backend} is not installed"))


ONE_STEP = """
import json
import keras
import numpy as np
from fer_keras.training.distribute import placement, visible_devices

assert len(visible_devices()) == 2  # splits the host CPU before the backend starts

def model():
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.Flatten()(keras.layers.MaxPooling2D(4)(x))
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))

rng = np.random.default_rng(0)
x = rng.random((16, 48, 48, 1), dtype=np.float32)
y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 16)]
keras.utils.set_random_seed(0)
start = model().get_weights()
after = []
for where in (placement(), placement(2)):
    with where.scope():
        net = model()
        net.set_weights(start)
        net.compile(keras.optimizers.SGD(0.5), "categorical_crossentropy")
        net.train_on_batch(x, y)  # one step, global batch 16
    after.append(net.get_weights())
moved = max(float(np.abs(a - b).max()) for a, b in zip(after[0], start))
gap = max(float(np.abs(a - b).max()) for a, b in zip(*after))
engine = where._strategy
replicas = getattr(engine, "num_replicas_in_sync", None) or engine.device_mesh.devices.size
print(json.dumps({"engine": where.engine, "replicas": replicas, "moved": moved, "gap": gap}))
"""


def run(args, backend, tmp_path, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", **TWO_DEVICES[backend]}
    return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    return write_csv(generate(n_samples=700, seed=3).data, tmp_path_factory.mktemp("data") / "small.csv")


@pytest.mark.parametrize("backend, engine", [backend_param("jax", "DataParallel"),
                                             backend_param("tensorflow", "MirroredStrategy")])
def test_one_step_on_two_devices_gives_the_weights_of_one_step_on_one(tmp_path, backend, engine):
    """Same start weights, same global batch of 16, plain SGD: 2 replicas of 8 give the weights of
    one device with 16. The model has no BatchNormalization (each replica would normalise with its
    own 8 images' statistics, not the 16's, so the weights would differ by design) and no Dropout
    (its random masks differ between the two placements)."""
    result = run(["-c", ONE_STEP], backend, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    print(backend, found)
    assert found["engine"] == engine and found["replicas"] == 2
    assert found["moved"] > 1e-3  # the step changed the weights…
    assert found["gap"] < 1e-5  # …and identically on 1 and 2 devices


def train_cli(tmp_path, csv, backend, *extra):
    return run(["-m", "fer_keras.train", "--variant", "baseline_cnn", "--data", str(csv), "--epochs", "2",
                "--fresh", *extra], backend, tmp_path, timeout=180)


def artefacts(folder):
    return sorted(str(p.relative_to(folder)).split("/")[0] for p in folder.iterdir())


@pytest.mark.parametrize("backend", [backend_param("tensorflow"), backend_param("jax")])
def test_a_two_device_run_writes_what_a_one_device_run_writes(tmp_path, small_csv, backend):
    """Under TensorFlow against a one-device run made here; under JAX (slower) against its file list."""
    import keras

    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    parallel = train_cli(two, small_csv, backend, "--devices", "2")
    assert parallel.returncode == 0, parallel.stderr[-2000:]
    (run_two,) = (two / "callbacks").iterdir()
    if backend == "tensorflow":
        reference = train_cli(one, small_csv, backend)
        assert reference.returncode == 0, reference.stderr[-2000:]
        (run_one,) = (one / "callbacks").iterdir()
        assert artefacts(run_two) == artefacts(run_one)
        assert artefacts(two / "results" / run_two.name) == artefacts(one / "results" / run_one.name)
        assert json.loads((run_one / "config.json").read_text())["distribution"]["engine"] is None
    assert {"best.keras", "history.csv", "config.json", "logs", "test_split.npz"} <= set(artefacts(run_two))
    assert len(pd.read_csv(run_two / "history.csv")) == 2
    config = json.loads((run_two / "config.json").read_text())["distribution"]
    assert config["replicas"] == 2 and len(config["devices"]) == 2
    assert config["engine"] == {"jax": "DataParallel", "tensorflow": "MirroredStrategy"}[backend]
    metrics = json.loads((two / "results" / run_two.name / "metrics.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["epochs_run"] == 2
    model = keras.saving.load_model(run_two / "best.keras", safe_mode=True)
    assert model.output_shape == (None, 7)


@pytest.mark.parametrize("devices, message", [
    ("3", "--devices 3: only 2 visible to tensorflow"),
    ("0", "--devices must be a positive integer or 'all', got '0'"),
    ("two", "--devices must be a positive integer or 'all', got 'two'"),
])
def test_more_devices_than_visible_is_one_line_exit_2_and_writes_nothing(tmp_path, small_csv, devices, message):
    result = train_cli(tmp_path, small_csv, "tensorflow", "--devices", devices)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback_train_one_epoch_in_step_and_the_chief_writes_its_run(tmp_path, small_csv):
    """TensorFlow's MultiWorkerMirroredStrategy over gRPC on 127.0.0.1: two processes, TF_CONFIG naming
    both, one epoch. Worker 0 is the chief; both must exit 0 and report the same (all-reduced) loss."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        (tmp_path / f"w{index}").mkdir()
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow",
               "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        workers.append(subprocess.Popen(
            [sys.executable, "-m", "fer_keras.train", "--variant", "baseline_cnn", "--data", str(small_csv),
             "--epochs", "1", "--multi-worker", "--fresh"], cwd=tmp_path / f"w{index}", env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
    (run_dir,) = (tmp_path / "w0" / "callbacks").iterdir()
    assert {"best.keras", "history.csv", "config.json", "logs", "test_split.npz"} <= set(artefacts(run_dir))
    config = json.loads((run_dir / "config.json").read_text())["distribution"]
    assert config["engine"] == "MultiWorkerMirroredStrategy" and config["workers"] == 2
    metrics = json.loads((tmp_path / "w0" / "results" / run_dir.name / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and 0 <= metrics["test_accuracy"] <= 1
    losses = [pd.read_csv(next((tmp_path / f"w{i}" / "callbacks").glob("*/history.csv")))["loss"][0] for i in (0, 1)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
