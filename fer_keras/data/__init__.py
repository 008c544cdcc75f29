"""The data layer: one container (`FERData`) and one entry point (`load`)."""

from pathlib import Path

from fer_keras.data.container import SPLITS, FERData, make_fer_data
from fer_keras.data.io import existing_path, load_csv, load_folder, write_csv
from fer_keras.data.labelsets import get_label_set
from fer_keras.errors import FERDataError

SYNTHETIC = "synthetic"


def load(source=SYNTHETIC, cache=True, labels=None, ferplus_mode="majority"):
    """Load a dataset: ``"synthetic"`` (the embedded default), a Kaggle CSV or an image folder with
    FER2013's labels, or another label set's layout (``labels``, see ``fer_keras.data.labelsets``):
    "ferplus" (``fer2013new.csv`` beside ``fer2013.csv``; ``ferplus_mode`` "majority" or
    "probability"), "rafdb" (its partition file and aligned images), "affectnet" and "ckplus" (image
    folders). Without ``labels`` the label set is detected: a ``fer2013new*.csv`` file is FER+, a folder
    holding RAF-DB's partition file is RAF-DB, anything else FER2013."""
    from fer_keras.data.datasets import load_ferplus, load_rafdb, rafdb_partition

    label_set = None if labels is None else get_label_set(labels)
    if str(source) == SYNTHETIC:
        if label_set not in (None, get_label_set("fer2013")):
            raise FERDataError(f"the synthetic data is labelled with FER2013's classes, not {label_set.name}'s; "
                               "pass --data with a dataset in that label set's layout")
        from fer_keras.data.synthetic import load_synthetic

        return load_synthetic()
    path = Path(source).expanduser()
    if label_set is None:
        label_set = get_label_set("ferplus" if path.name.startswith("fer2013new") else
                                  "rafdb" if path.is_dir() and rafdb_partition(path) else "fer2013")
    if label_set.name == "ferplus":
        return load_ferplus(path, mode=ferplus_mode, cache=cache)
    if label_set.name == "rafdb":
        return load_rafdb(path, cache=cache)
    if path.is_dir():
        return load_folder(path, cache=cache, label_set=label_set)
    if label_set.name != "fer2013" and existing_path(path):
        raise FERDataError(f"{path}: {label_set.name} data are read from image folders ROOT/<split>/<class>/*; "
                           "pass the folder")
    return load_csv(path, cache=cache)


__all__ = ["SPLITS", "SYNTHETIC", "FERData", "FERDataError", "load", "load_csv", "load_folder",
           "make_fer_data", "write_csv"]
