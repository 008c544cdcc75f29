"""The benchmark command: one interleaved run over backends, files written, bad input in one line."""

import json
import subprocess
import sys

import pytest

from conftest import REPO


def bench(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "fer_keras.bench", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.mark.slow
def test_bench_tables_tensorflow_against_the_pytorch_twin(tmp_path):
    done = bench("--settings", "tensorflow", "torch-twin", "--steps", "3", "--rounds", "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-1500:]
    assert "| tensorflow |" in done.stdout and "| torch-twin |" in done.stdout
    found = json.loads((tmp_path / "bench.json").read_text())
    tf = found["best"]["tensorflow"]
    assert tf["train"]["images_per_s"] > 0 and tf["train_augmented"]["images_per_s"] > 0
    assert tf["inference"]["cpu_s_per_1000"] > 0 and (tmp_path / "bench.md").exists()
    twin = found["best"]["torch-twin"]
    assert "skipped" in twin or twin["params"] == 684_231  # baseline_cnn's trainable parameters, exactly


@pytest.mark.slow
def test_bench_times_bfloat16_beside_float32_in_the_same_run(tmp_path):
    from fer_keras.runtime import TRAINING_STEPS_PER_EXECUTION as spe

    done = bench("--settings", f"tensorflow-spe{spe}", f"tensorflow-spe{spe}-bfloat16", "--steps", "3", "--rounds",
                 "1", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr[-1500:]
    best = json.loads((tmp_path / "bench.json").read_text())["best"]
    float32, bfloat16 = best[f"tensorflow-spe{spe}"], best[f"tensorflow-spe{spe}-bfloat16"]
    assert float32["policy"] == "float32" and bfloat16["policy"] == "mixed_bfloat16"
    assert bfloat16["params"] == float32["params"] == 684_935 and bfloat16["train"]["cpu_s_per_1000"] > 0
    assert f"| tensorflow-spe{spe}-bfloat16 |" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--model", "nope"], "unknown model 'nope'"),
    (["--crops-of", "missing.keras"], "model file not found: missing.keras"),
])
def test_bench_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    done = bench(*args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert message in done.stderr and not (tmp_path / "out").exists()


def test_crop_speed_measures_tflite_files_with_one_thread_and_one_per_core():
    import os

    from fer_keras.bench.speed import crops_per_second
    from fer_keras.models.pretrained import FAST_MODEL

    pytest.importorskip("tensorflow")
    found = crops_per_second([FAST_MODEL], tflite=FAST_MODEL, n_faces=256)
    cores = os.cpu_count()
    threads = f"{cores} thread{'s' * (cores > 1)}"
    assert set(found) == {
        "fernet_s_int8.tflite, 1 thread (predict, batch 256)", "fernet_s_int8.tflite, 1 thread (one face per call)",
        f"fernet_s_int8.tflite, {threads} (predict, batch 256)",
        f"fernet_s_int8.tflite, {threads} (one face per call)",
        "fernet_s_int8.tflite (TFLite, one face per invoke)",
        f"fernet_s_int8.tflite (TFLite, one face per invoke, {threads})"}
    assert all(r["images_per_s"] > 0 and r["cpu_s_per_1000"] > 0 for r in found.values())
