"""``python -m fer_keras.data info --data PATH|synthetic``: what a dataset holds, per split and emotion."""

import sys
import time

from fer_keras.cli import ArgumentParser, user_errors_exit
from fer_keras.data import SYNTHETIC, load
from fer_keras.data.labelsets import add_label_options, label_options_of


def info(source, cache=True, labels=None, ferplus_mode="majority"):
    """Print the source, its label set, the notes of its loading, and the split × class count table."""
    start = time.perf_counter()
    data = load(source, cache=cache, labels=labels, ferplus_mode=ferplus_mode)
    print(f"source: {data.source}")
    print(f"label set: {data.label_set.name} ({data.label_set.describe()})")
    for note in data.notes:
        print(f"note:   {note}")
    print(f"images: {len(data):,} (48×48 grey), loaded in {time.perf_counter() - start:.1f}s\n")
    table = data.counts().map(lambda n: f"{n:,}")
    print(table.to_string())


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.data",
        description="Inspect a FER dataset: a Kaggle FER2013 CSV (.csv/.gz/.xz/.zip), an image folder "
        "ROOT/<split>/<emotion>/*.png, another label set's layout (--labels), or the embedded synthetic set.",
        epilog="example: python -m fer_keras.data info --data ../shared/data/fer2013.csv.gz",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    info_parser = commands.add_parser("info", help="print image counts per split × emotion")
    info_parser.add_argument("--data", default=SYNTHETIC,
                             help="CSV file, image folder, or 'synthetic' (default: %(default)s)")
    info_parser.add_argument("--no-cache", action="store_true", help="ignore and do not write the HDF5 cache")
    add_label_options(info_parser)
    args = parser.parse_args(argv)
    labels, ferplus_mode = label_options_of(args)  # an unknown --labels or --ferplus-mode, before loading
    info(args.data, cache=not args.no_cache, labels=labels, ferplus_mode=ferplus_mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
