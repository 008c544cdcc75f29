"""``python -m fer_keras.ensemble``: average or vote several runs.
The code lives in ``fer_keras.evaluation.ensemble``."""

import sys

from fer_keras.evaluation.ensemble import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
