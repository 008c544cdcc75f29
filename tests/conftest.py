import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FER2013 = Path(os.environ.get("FER2013_CSV", REPO.parent / "shared" / "data" / "fer2013.csv.gz"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session writes HDF5 caches under a temporary folder, never in the user's home."""
    monkeypatch.setenv("FER_KERAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def fer2013_path():
    if not FER2013.exists():
        pytest.skip(f"real FER2013 not found at {FER2013}")
    return FER2013


@pytest.fixture(scope="session")
def fer2013(fer2013_path, tmp_path_factory):
    from fer_keras.data import load_csv

    os.environ.setdefault("FER_KERAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    return load_csv(fer2013_path)


def random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 48, 48), dtype=np.uint8)
