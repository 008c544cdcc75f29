"""Every installed Keras backend builds, trains for one step and reloads (safe mode) the registry's
small models: the builders use ``keras.layers`` / ``keras.ops`` only. Each backend runs in its own
process (Keras fixes the backend at import); a backend whose package is missing is skipped."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)

MODELS = ("baseline_cnn", "fernet_t", "cnn_lstm_first")

ONE_STEP = """
import json, sys
import numpy as np, keras
from fer_keras.models import build_model, compile_model
from fer_keras.runs.model_files import load_model
found = {}
x = np.random.default_rng(0).random((32, 48, 48, 1), dtype=np.float32)
y = np.eye(7, dtype="float32")[np.arange(32) % 7]
for name in sys.argv[1:]:
    model = compile_model(build_model(name), optimizer="adam")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    moved = sum(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    path = f"{name}.keras"
    model.save(path)
    scores = load_model(path).predict(x[:4], verbose=0)
    found[name] = {"moved": moved, "sums": scores.sum(axis=1).tolist(),
                   "same": bool(np.allclose(scores, model.predict(x[:4], verbose=0), atol=1e-5))}
print(json.dumps({"backend": keras.backend.backend(), "models": found}))
"""


@pytest.mark.parametrize("backend", [
    pytest.param(b, marks=pytest.mark.skipif(importlib.util.find_spec(b) is None, reason=f"{b} is not installed"))
    for b in ("tensorflow", "jax", "torch")])
def test_every_installed_backend_trains_the_small_models_for_one_step_and_reloads_them(backend, tmp_path):
    done = subprocess.run([sys.executable, "-c", ONE_STEP, *MODELS], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["backend"] == backend and set(found["models"]) == set(MODELS)
    for name, result in found["models"].items():
        assert result["moved"] > 0, f"{name}: one step under {backend} changed no weight"
        assert result["same"] and all(abs(s - 1) < 1e-4 for s in result["sums"]), name
