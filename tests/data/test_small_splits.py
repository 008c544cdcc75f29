"""Data too small to stratify: one line naming the class counts and the smallest viable data, exit
status 2, nothing written — not scikit-learn's ``test_size … should be greater or equal to the number
of classes``."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fer_keras.data.container import make_fer_data
from fer_keras.data.io import write_csv
from fer_keras.data.splits import split
from fer_keras.errors import FERDataError

from conftest import REPO


def faces(n, seed=0):
    rng = np.random.default_rng(seed)
    return make_fer_data(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n) % 7,
                         np.full(n, "", object))


@pytest.mark.parametrize("n, message", [
    (21, "21 distinct image(s) (angry 3, disgust 3, fear 3, happy 3, sad 3, surprise 3, neutral 3) are too few for "
         "a stratified 10% test split; it needs at least 70 distinct images with 3 or more of each of the 7 classes"),
    (1, "1 distinct image(s) (angry 1) are too few for a 10% test split; it needs at least 10 distinct images"),
])
def test_too_few_images_to_split_name_the_counts_and_what_is_needed(n, message):
    with pytest.raises(FERDataError) as caught:
        split(faces(n), "stratified")
    assert message in str(caught.value) and "Usage column" in str(caught.value)


def test_enough_images_still_split():
    parts = split(faces(70), "stratified")
    assert (len(parts.train), len(parts.val), len(parts.test)) == (55, 8, 7)


@pytest.mark.slow
def test_train_on_a_tiny_csv_without_usage_is_one_line_and_exit_2(tmp_path):
    data = write_csv(faces(30), tmp_path / "tiny.csv")
    lines = data.read_text().splitlines()
    data.write_text("\n".join(",".join(line.split(",")[:2]) for line in lines) + "\n")  # drop the Usage column
    result = subprocess.run([sys.executable, "-m", "fer_keras.train", "--variant", "baseline_cnn", "--data",
                             str(data), "--epochs", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO), "FER_KERAS_CACHE": str(tmp_path / "cache")})
    error = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(error) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "too few for a stratified 10% test split" in error[0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "cache") == ["tiny.csv"]
