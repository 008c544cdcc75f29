"""``python -m fer_keras.bench``: training and inference speed (the code: ``fer_keras.bench.speed``)."""

import sys

from fer_keras.bench import main

sys.exit(main())
