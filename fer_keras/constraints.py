"""Declared constraints for numeric options and recipe fields, in one table, checked once before any
work — in the style of scikit-learn's ``_parameter_constraints``.

Each name maps to an :class:`Interval`: the kind (``int`` values must be whole numbers, ``float``
values finite), the bounds and which ends are closed. Every number is bounded above, so that a
typo (``--set crop_padding=400000``) or ``inf`` never reaches an allocation, a schedule or OpenCV.
The CLIs call :func:`check_options` right after parsing; ``Recipe`` validation and ``--set`` call
:func:`check_fields` / :func:`check`. A violation is one :class:`FERError` line naming the option and the allowed range.
"""

import math
from dataclasses import dataclass

from fer_keras.errors import FERError


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int`` or ``float``) in [low, high], ends closed as ``closed`` says
    ("both", "left", "right", "neither")."""

    kind: type
    low: float
    high: float
    closed: str = "both"

    def describe(self):
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        what = "a whole number" if self.kind is int else "a finite number"
        return f"{what} in {left}{self.low:g}, {self.high:g}{right}"

    def holds(self, value):
        above = value >= self.low if self.closed in ("both", "left") else value > self.low
        below = value <= self.high if self.closed in ("both", "right") else value < self.high
        return above and below


CONSTRAINTS = {
    # recipe fields (--set KEY=VALUE, recipes.Recipe)
    "learning_rate": Interval(float, 0, 10, "right"),
    "momentum": Interval(float, 0, 1, "left"),
    "weight_decay": Interval(float, 0, 1),
    "warmup_epochs": Interval(float, 0, 10_000),
    "final_lr_ratio": Interval(float, 0, 1),
    "cycles": Interval(int, 1, 1_000),
    "label_smoothing": Interval(float, 0, 1, "left"),
    "batch_size": Interval(int, 1, 65_536),
    "crop_padding": Interval(int, 0, 24),  # at most half a 48-pixel face
    "erase_probability": Interval(float, 0, 1),
    "distill_weight": Interval(float, 0, 1),
    "distill_temperature": Interval(float, 0, 100, "right"),
    "ema_momentum": Interval(float, 0, 1, "left"),
    # command-line options
    "time_budget": Interval(float, 0, 525_600, "right"),  # minutes: at most a year
    "epochs": Interval(int, 1, 100_000),
    "per_class": Interval(int, 1, 100_000),
    "extra_per_class": Interval(int, 1, 100_000),
    "stream_cache": Interval(int, 0, 100_000),
    "scale_factor": Interval(float, 1, 10, "neither"),
    "min_face": Interval(int, 1, 100_000),
    "min_neighbors": Interval(int, 1, 1_000),
    "every": Interval(int, 1, 1_000_000),
    "max_frames": Interval(int, 1, 10**9),
    "margin": Interval(float, 0, 10),
    "timing_calls": Interval(int, 0, 100_000),
    "ensemble_weight": Interval(float, 0, 1e6),
    "steps": Interval(int, 1, 1_000_000),
    "rounds": Interval(int, 1, 1_000),
    "threshold": Interval(float, 0, 255),  # eda: a mean pixel
    "iqr_k": Interval(float, 0, 100),
    "seed": Interval(int, 0, 2**32 - 1),  # what NumPy's and Keras' generators take
}
"""Every constrained number, by name (recipe field or option ``dest``)."""


def check(name, value, label=None):
    """``value`` (a number, or None where the field is optional) if it meets ``CONSTRAINTS[name]``
    (a whole number where ``int`` is declared is returned as an int); FERError naming ``label``
    (default ``name``) otherwise."""
    if value is None:
        return None
    constraint, label = CONSTRAINTS[name], label or name
    problem = _problem(constraint, value)
    if problem:
        raise FERError(f"{label} must be {constraint.describe()}, got {problem}")
    return int(value) if constraint.kind is int else float(value)


def _problem(constraint, value):
    """Why ``value`` breaks ``constraint`` (how to print it), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if constraint.kind is int and not float(value).is_integer():
        return f"{value:g}"
    return None if constraint.holds(value) else f"{value:g}"


def check_fields(obj, label):
    """Check every attribute of ``obj`` that ``CONSTRAINTS`` names (``label``: who, for the message)."""
    for name in CONSTRAINTS:
        if hasattr(obj, name):
            check(name, getattr(obj, name), f"{label}: {name}")


def check_options(args, names):
    """Check the parsed options ``names`` (argparse ``dest`` names, each in ``CONSTRAINTS``) of
    ``args``, once, right after parsing: FERError naming the option (``--scale-factor``) otherwise,
    which the CLIs print as one line with exit status 2."""
    for name in names:
        setattr(args, name, check(name, getattr(args, name), "--" + name.replace("_", "-")))
