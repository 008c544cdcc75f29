"""Benchmark CSV pixel parsing: the vectorised loader against the naive per-row loop, in one run.

    python -m fer_keras.data.benchmark ../shared/data/fer2013.csv.gz

Prints seconds and the speed-up ratios (vectorised vs naive, cached reload vs first load).
Timings on a shared machine are noisy: read the ratios, not the seconds.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from fer_keras.cli import ArgumentParser, user_errors_exit
from fer_keras.data.io import CACHE_ENV, existing_path, load_csv


def naive_load(path):
    """The notebook way: ``np.array(row.split())`` for every row."""
    frame = pd.read_csv(path)
    images = np.stack([np.array(row.split(), dtype=np.uint8).reshape(48, 48) for row in frame["pixels"]])
    return images, frame["emotion"].to_numpy()


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(prog="python -m fer_keras.bench.data_loading", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", help="a Kaggle FER2013 CSV (plain or compressed)")
    path = existing_path(parser.parse_args(argv).csv)

    (naive_images, _), naive_s = _timed(naive_load, path)
    fast, fast_s = _timed(load_csv, path, cache=False)
    assert np.array_equal(naive_images, fast.images), "the two parsers disagree"
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE_ENV] = cache
        _, first_s = _timed(load_csv, path)
        _, reload_s = _timed(load_csv, path)
    print(f"{len(fast):,} rows from {path}")
    print(f"naive per-row loop:   {naive_s:7.2f} s")
    print(f"vectorised load_csv:  {fast_s:7.2f} s   → {naive_s / fast_s:.1f}× faster")
    print(f"first load + cache:   {first_s:7.2f} s")
    print(f"cached reload (HDF5): {reload_s:7.3f} s   → {first_s / reload_s:.0f}× faster than the first load")
    return 0


if __name__ == "__main__":
    sys.exit(main())
