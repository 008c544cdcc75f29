"""``python -m fer_keras.saliency``: where a run's model looks.
The code lives in ``fer_keras.evaluation.saliency``."""

import sys

from fer_keras.evaluation.saliency import main, run_saliency  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
