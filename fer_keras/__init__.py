"""fer_keras — a Keras 3 toolkit for facial emotion recognition on FER2013-style data."""

import os

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The seven FER2013 emotions, in label order (0 angry … 6 neutral)."""

IMAGE_SIZE = 48

__version__ = "0.1.0"

STAGES = (
    ("data", "load, clean, split, balance and augment faces; find faces in photos; the EDA report"),
    ("models", "one module per model family (builder, CPU size, papers' figures), the registry that discovers them; "
               "TTA; the shipped model"),
    ("runs", "the run folder that training writes and every later stage reads, its typed config; model files"),
    ("training", "named variants, recipes, schedules, callbacks, distillation; train() and its health check"),
    ("inference", "the recognizer on photos, folders, video and the webcam; the TFLite export; the web app"),
    ("evaluation", "the one evaluator and what builds on it: ensembles, model soups, region vote, saliency, "
                   "diagnosis, tables"),
)
"""The pipeline's stage folders, in order: a module imports only from its own stage or an earlier one
(tests/test_layers.py). Below them: the shared plumbing at the top level (errors, cli, constraints, runtime,
files, figures); above them: ``bench/`` (speed measurements) and ``commands/`` (the command lines)."""

# ``python -m fer_keras.<command>``: each command's thin entry module lives in fer_keras/commands/ (the
# stage folders hold the code); listing that folder on the package's path makes ``fer_keras.train`` the
# module fer_keras/commands/train.py.
__path__.append(os.path.join(__path__[0], "commands"))

__all__ = ["EMOTIONS", "IMAGE_SIZE", "STAGES", "__version__"]
