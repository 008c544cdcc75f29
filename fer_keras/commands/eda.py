"""``python -m fer_keras.eda``: the data-centric report.
The code lives in ``fer_keras.data.eda_report``."""

import sys

from fer_keras.data.eda_report import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
