"""The data layer: one container (`FERData`) and one entry point (`load`)."""

from pathlib import Path

from fer_keras.data.container import SPLITS, FERData, make_fer_data
from fer_keras.data.io import load_csv, load_folder, write_csv
from fer_keras.errors import FERDataError

SYNTHETIC = "synthetic"


def load(source=SYNTHETIC, cache=True):
    """Load a dataset: ``"synthetic"`` (the embedded default), a Kaggle CSV or an image folder."""
    if str(source) == SYNTHETIC:
        from fer_keras.data.synthetic import load_synthetic

        return load_synthetic()
    path = Path(source).expanduser()
    if path.is_dir():
        return load_folder(path, cache=cache)
    return load_csv(path, cache=cache)


__all__ = ["SPLITS", "SYNTHETIC", "FERData", "FERDataError", "load", "load_csv", "load_folder",
           "make_fer_data", "write_csv"]
