"""``python -m fer_keras.evaluate``: evaluate a run or a model file on its test split
(``fer_keras.evaluation.evaluate``), or labelled photos end to end with ``--photos DIR``
(``fer_keras.evaluation.photos``)."""

import sys

from fer_keras.cli import user_errors_exit
from fer_keras.evaluation import photos
from fer_keras.evaluation.evaluate import evaluate_run  # noqa: F401
from fer_keras.evaluation.evaluate import main as evaluate_main


@user_errors_exit
def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return photos.main(argv) if photos.wants_photos(argv) else evaluate_main(argv)


if __name__ == "__main__":
    sys.exit(main())
