"""``python -m fer_keras <command>`` (and ``python -m fer_keras.commands``): the same as ``fer-keras <command>``."""

import sys

from fer_keras.commands import main

sys.exit(main())
