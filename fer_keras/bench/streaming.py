"""Peak memory of streaming an image folder against loading it: a one-off measurement, not a test.

    python -m fer_keras.data.stream_bench write /tmp/fer_stream --n 100000   # 48×48 PNG faces
    python -m fer_keras.data.stream_bench measure /tmp/fer_stream            # index + one streamed pass
    python -m fer_keras.data.stream_bench measure /tmp/fer_stream --load     # load_folder, for comparison
    rm -r /tmp/fer_stream

Run each ``measure`` in its own process: the peak resident set (``ru_maxrss``) is the process's.
Streaming reads ``--batch-size`` images at a time in a seeded shuffled order, as training does.
"""

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.cli import ArgumentParser, user_errors_exit
from fer_keras.data.container import make_fer_data
from fer_keras.data.io import load_folder, write_folder
from fer_keras.data.stream import index_folder
from fer_keras.errors import FERError

MB = 2 ** 20


def write_faces(root, n, seed=0):
    """``n`` distinct synthetic 48×48 faces as ``root/<split>/<emotion>/<row>.png``: 4,000 generated
    faces repeated, each copy told apart by its two top-left pixels."""
    from fer_keras.data.synthetic import generate

    faces = generate(n_samples=min(n, 4000), seed=seed).data
    rows = np.arange(n) % len(faces)
    images = faces.images[rows]
    copy = np.arange(n) // len(faces)
    images[:, 0, 0], images[:, 0, 1] = copy % 256, copy // 256
    return write_folder(make_fer_data(images, faces.labels[rows], faces.usage[rows]), root)


def peak_rss_mb():
    """This process's peak resident set so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(root, batch_size=256, load=False, seed=0):
    """Index ``root`` and stream it once (or, with ``load``, ``load_folder`` it); returns a dict of
    seconds, the peak RSS (MB) before and after, and the tracemalloc peak (MB) of the work."""
    before = peak_rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    if load:
        data = load_folder(root, cache=False)
        n, held = len(data), data.images.nbytes
    else:
        index = index_folder(root)
        indexed = time.perf_counter() - start
        images, n, held = index.lazy_images(), len(index), 0
        order = np.random.default_rng(seed).permutation(n)
        for begin in range(0, n, batch_size):
            batch = np.asarray(images[np.sort(order[begin:begin + batch_size])])
            held = max(held, batch.nbytes)
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    found = {"images": n, "mode": "load_folder" if load else "stream", "seconds": round(seconds, 1),
             "peak_rss_before_mb": round(before, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
             "tracemalloc_peak_mb": round(traced_peak / MB, 1), "largest_array_held_mb": round(held / MB, 1),
             "in_memory_uint8_mb": round(n * IMAGE_SIZE ** 2 / MB, 1),
             "in_memory_float32_mb": round(n * IMAGE_SIZE ** 2 * 4 / MB, 1)}
    if not load:
        found["index_seconds"] = round(indexed, 1)
    return found


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(prog="python -m fer_keras.bench.streaming",
                            description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n")[1],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="write N synthetic 48×48 PNG faces under FOLDER")
    write.add_argument("folder")
    write.add_argument("--n", type=int, default=100_000, help="images (default: %(default)s)")
    check = commands.add_parser("measure", help="index and stream FOLDER once; print the peak memory")
    check.add_argument("folder")
    check.add_argument("--batch-size", type=int, default=256, help="images per streamed batch (default: %(default)s)")
    check.add_argument("--load", action="store_true", help="load_folder instead, for the comparison")
    args = parser.parse_args(argv)
    if args.command == "write":
        if args.n < 1:
            raise FERError(f"--n must be a positive number of images, got {args.n}")
        print(f"wrote {args.n:,} images under {write_faces(args.folder, args.n)}/")
    else:
        for key, value in measure(args.folder, args.batch_size, args.load).items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
