"""Issue 25 item 8's smaller cases: eda on a tiny or .bz2 CSV, bench --vs-tflite on a non-TFLite file
(or without --crops-of), TF_CONFIG's cluster given as a list, data info --ferplus-mode unknown — each
a report or one line with exit 2 and nothing written, never a traceback."""

import bz2
import json
from pathlib import Path

import pytest

import fer_keras
from fer_keras.data import make_fer_data, write_csv
from fer_keras.errors import FERError

from conftest import random_images


def tiny_csv(folder, rows=3, suffix=".csv"):
    data = make_fer_data(random_images(rows, seed=7), [k % 7 for k in range(rows)],
                         ["Training", "PublicTest", "PrivateTest"][:rows] + ["Training"] * max(rows - 3, 0))
    path = folder / "tiny.csv"
    write_csv(data, path)
    if suffix == ".csv.bz2":
        path.with_suffix(".csv.bz2").write_bytes(bz2.compress(path.read_bytes()))
        path.unlink()
        path = path.with_suffix(".csv.bz2")
    return path


@pytest.mark.parametrize("rows, suffix", [(3, ".csv"), (1, ".csv"), (3, ".csv.bz2")])
def test_eda_on_a_tiny_or_bz2_csv_without_duplicates_writes_its_report(tmp_path, rows, suffix, capsys):
    """Was ``KeyError: 'splits'``: a data set without a single duplicate image left an empty mask."""
    from fer_keras.data.eda_report import main

    path = tiny_csv(tmp_path, rows, suffix)
    assert main(["--data", str(path), "--out", str(tmp_path / "eda"), "--no-cache"]) == 0
    summary = json.loads((tmp_path / "eda" / "summary.json").read_text())
    assert summary["duplicates"]["groups"] == 0 and summary["leakage"]["groups"] == 0


def run_main(main, argv, capsys, root):
    before = sorted(root.rglob("*"))
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert sorted(root.rglob("*")) == before
    return err


@pytest.mark.parametrize("argv, message", [
    (["--crops-of", "{tflite}", "--vs-tflite", "{csv}"], "--vs-tflite {csv}: not a TFLite model (no 'TFL3'"),
    (["--crops-of", "{fake}"], "--crops-of {fake}: not a TFLite model"),
    (["--vs-tflite", "{tflite}"], "--vs-tflite is compared with the models of --crops-of"),
    (["--steps", "10000000000"], "--steps must be a whole number in [1, 1e+06], got 1e+10"),
])
def test_bench_refuses_a_non_tflite_file_and_bounds_its_numbers_before_work(tmp_path, capsys, argv, message):
    from fer_keras.bench.speed import main

    tflite = Path(fer_keras.__file__).parent / "models" / "pretrained" / "fernet_s_int8.tflite"  # the shipped export
    names = {"tflite": str(tflite), "csv": str(tiny_csv(tmp_path)), "fake": str(tmp_path / "fake.tflite")}
    (tmp_path / "fake.tflite").write_bytes(b"\x00" * 64)
    err = run_main(main, [a.format(**names) for a in argv], capsys, tmp_path)
    assert message.format(**names) in err, err


@pytest.mark.parametrize("cluster", [["127.0.0.1:1", "127.0.0.1:2"], {"worker": "127.0.0.1:1"}, {"worker": [1]}])
def test_a_tf_config_whose_cluster_is_not_an_object_of_lists_is_one_line(monkeypatch, cluster):
    from fer_keras.training.distribute import placement

    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(FERError, match="TF_CONFIG's 'cluster' must be an object of lists of host:port strings") as err:
        placement(multi_worker=True)
    assert "\n" not in str(err.value)


def test_data_info_refuses_an_unknown_ferplus_mode_before_loading(tmp_path, capsys):
    from fer_keras.data.__main__ import main

    err = run_main(main, ["info", "--ferplus-mode", "majorty"], capsys, tmp_path)
    assert "unknown --ferplus-mode 'majorty'; use one of majority, probability" in err


@pytest.mark.parametrize("argv, message", [
    (["--threshold", "1e999"], "--threshold must be a finite number in [0, 255], got inf"),
    (["--iqr-k", "nan"], "--iqr-k must be a finite number in [0, 100], got nan"),
    (["--data", "missing/\r"], "error: missing/\\r: no such file or folder"),  # a control character, escaped
])
def test_eda_refuses_in_one_line_before_work(tmp_path, monkeypatch, capsys, argv, message):
    from fer_keras.data.eda_report import main

    monkeypatch.chdir(tmp_path)
    err = run_main(main, argv + ["--out", "out"], capsys, tmp_path)
    assert message in err, err
