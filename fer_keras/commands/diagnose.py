"""``python -m fer_keras.diagnose``: why a run predicts one class.
The code lives in ``fer_keras.evaluation.diagnose``."""

import sys

from fer_keras.evaluation.diagnose import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
