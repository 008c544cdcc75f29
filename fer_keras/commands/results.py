"""``python -m fer_keras.results``: gather results/*/metrics.json into results/README.md.
The code lives in ``fer_keras.evaluation.results``."""

import sys

from fer_keras.evaluation.results import main, collect  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
