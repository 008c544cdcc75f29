"""Training recipes as data: optimizer, learning-rate schedule, regularisation, batch size and
augmentation policy — separate from the model (``models/``) and the data protocol (``variants``).

Three recipes are named in ``RECIPES``:

* ``"paper"``: each seed variant's own published recipe (Adam at the variant's learning rate,
  ReduceLROnPlateau / EarlyStopping from its callback settings, Białek's rotate/flip/zoom when the
  variant augments). It is resolved from the variant, so the seeds keep exactly what they had.
* ``"modern"``: for a CPU budget of minutes (tens of epochs): AdamW (decoupled weight decay
  0.05), a linear warm-up then a cosine decay that reaches zero at the planned end of the run, and
  random-crop (reflect-padded) + horizontal-flip augmentation. Chosen on PublicTest over the SGD
  form below: on ``baseline_cnn`` with a 30-minute budget it is the only form that beats the
  paper's Adam (results/COMMANDS.md, third session).
* ``"modern_sgd"``: what the FER2013 literature measured for long GPU runs (Khaireddin & Chen
  2021; Pramerdorfer & Kampel 2016): SGD with Nesterov momentum, the same warm-up + cosine, weight
  decay, label smoothing 0.1, crop + flip. FERNet-S, the shipped model, was trained with it.
* ``"snapshot"``: Snapshot Ensembles (Huang et al. 2017, "Train 1, get M for free"): the SGD form
  with a cosine that restarts ``cycles`` times, annealing from the peak to zero in each of ``cycles``
  equal cycles; the run saves a snapshot at the end of every cycle (``fer_keras.training.snapshots``) and
  ``python -m fer_keras.ensemble --snapshots RUN`` averages them.

``schedule_factor`` here and the callbacks of ``fer_keras.training.schedules`` make a run planned in minutes
(``--time-budget``): the budget re-plans the number of epochs after each epoch from the measured
epoch time, and the schedule anneals to that plan. This module imports no Keras at import time.
"""

import math
from dataclasses import asdict, dataclass, fields, replace

from fer_keras.constraints import CONSTRAINTS, check, check_fields
from fer_keras.errors import FERError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("plateau", "constant", "cosine", "onecycle", "cosine_restarts")
AUGMENTATIONS = ("none", "bialek", "crop_flip", "crop_flip_erase", "photo")
DISTILL_TTAS = ("none", "flip")


@dataclass(frozen=True)
class Recipe:
    """How to train, whatever the model and data.

    optimizer:        "adam", "adamw" or "sgd" (with Nesterov momentum ``momentum``).
    learning_rate:    the peak learning rate (the start for "plateau" / "constant").
    weight_decay:     decoupled weight decay of the Keras optimizer (0 = none).
    schedule:         "plateau" (ReduceLROnPlateau from the variant's callback settings), "constant",
                      "cosine" (linear warm-up for ``warmup_epochs``, then cosine to ``final_lr_ratio``)
                      "onecycle" (linear up for ``warmup_epochs``, linear down to the end) or
                      "cosine_restarts" (Huang et al. 2017: ``cycles`` equal cosine cycles from the peak
                      to ``final_lr_ratio``, the warm-up in the first one only; a snapshot per cycle).
    cycles:           the number of cosine cycles (snapshots) of "cosine_restarts".
    label_smoothing:  of the categorical cross-entropy (ignored by one-unit sigmoid heads).
    batch_size:       ``None`` keeps the variant's.
    augmentation:     "none", "bialek" (rotate ±10°, mirror, zoom 1.1–1.2; Keras layers),
                      "crop_flip" (random 48×48 crop of the image reflect-padded by ``crop_padding``,
                      horizontal flip), "crop_flip_erase" (plus random erasing with probability
                      ``erase_probability``) or "photo" (albumentations: detector-box jitter, tilt, flip,
                      lighting, blur / low resolution, JPEG, noise, occlusion, as in photo crops).
    early_stopping:   keep the variant's EarlyStopping (a scheduled run should reach its planned end).
    distill_weight:   with ``--teacher``: the share of the teachers' softened probabilities in each training
                      target, the rest being the label (``fer_keras.training.distill``).
    distill_temperature: the teachers' probabilities are softened as p^(1/T), renormalised (Hinton et al. 2015).
    distill_tta:      "none", or "flip": each teacher's probabilities are the mean over the face and its mirror.
    distill_consistent: the teachers see every training batch as the student sees it (augmented), so each
                      augmented view gets its own soft target ("consistent teaching", Beyer et al. 2022) —
                      rather than the targets of the un-augmented faces, cached once. Costs a teacher's
                      forward pass per batch (about a quarter of a FERNet-S training step per teacher and view).
    ema_momentum:     0 = off; else the optimizer keeps an exponential moving average of the weights
                      (Polyak averaging, Keras' ``use_ema``) with this momentum per step, and the run validates
                      and checkpoints the averaged weights (``keras.callbacks.SwapEMAWeights``).
    """

    name: str
    optimizer: str = "adam"
    learning_rate: float | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "plateau"
    warmup_epochs: float = 0.0
    final_lr_ratio: float = 0.0
    cycles: int = 1
    label_smoothing: float = 0.0
    batch_size: int | None = None
    augmentation: str | None = None
    crop_padding: int = 4
    erase_probability: float = 0.5
    early_stopping: bool = True
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    distill_tta: str = "none"
    distill_consistent: bool = False
    ema_momentum: float = 0.0

    def __post_init__(self):
        for attribute, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("distill_tta", DISTILL_TTAS)):
            if getattr(self, attribute) not in allowed:
                raise FERError(f"recipe {self.name!r}: unknown {attribute} {getattr(self, attribute)!r}; "
                               f"expected one of {', '.join(allowed)}")
        if self.augmentation is not None and self.augmentation not in AUGMENTATIONS:
            raise FERError(f"recipe {self.name!r}: unknown augmentation {self.augmentation!r}; "
                           f"expected one of {', '.join(AUGMENTATIONS)}")
        check_fields(self, f"recipe {self.name!r}")  # numbers: fer_keras.constraints' one table

    @property
    def scheduled(self):
        """Whether the learning rate follows a planned schedule (rather than the plateau callback)."""
        return self.schedule in ("cosine", "onecycle", "cosine_restarts")

    @property
    def snapshots(self):
        """Whether the run saves a snapshot at the end of every learning-rate cycle."""
        return self.schedule == "cosine_restarts"

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded):
        """The recipe recorded in a ``config.json``; unknown keys are refused, not dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(recorded) - known)
        if unknown:
            raise FERError(f"recipe record has unknown keys {', '.join(unknown)}")
        return cls(**recorded)


MODERN = Recipe(name="modern", optimizer="adamw", learning_rate=0.002, weight_decay=0.05, schedule="cosine",
                warmup_epochs=2.0, label_smoothing=0.0, batch_size=64, augmentation="crop_flip", early_stopping=False)

MODERN_SGD = Recipe(name="modern_sgd", optimizer="sgd", learning_rate=0.03, momentum=0.9, weight_decay=2e-3,
                    schedule="cosine", warmup_epochs=2.0, label_smoothing=0.1, batch_size=64,
                    augmentation="crop_flip", early_stopping=False)

"""Keras' ``weight_decay`` is decoupled (``w -= lr · wd · w`` each step), about 10× weaker than the
same number as PyTorch's L2 under momentum 0.9: 2e-3 here is roughly PyTorch's 2e-4."""

SNAPSHOT = replace(MODERN_SGD, name="snapshot", schedule="cosine_restarts", cycles=3, warmup_epochs=1.0)
"""Three cycles: a budget of minutes gives tens of epochs, and each cycle must be long enough to
converge (Huang et al. used 6 cycles of 50 epochs)."""

RECIPES = {"paper": Recipe(name="paper"), "modern": MODERN, "modern_sgd": MODERN_SGD, "snapshot": SNAPSHOT}
"""Named recipes; ``"paper"`` is filled in from the variant by :func:`resolve_recipe`."""


def override(recipe, assignments):
    """``recipe`` with ``KEY=VALUE`` assignments applied (the CLI's ``--set``), each value parsed as
    its field's type; an unknown key or a value of the wrong type is a one-line error."""
    types = {f.name: f.type for f in fields(Recipe)}
    changes = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types or key == "name":
            settable = ", ".join(k for k in types if k != "name")
            raise FERError(f"--set {assignment!r}: expected KEY=VALUE with KEY one of {settable}")
        kind = next(k for k in ("bool", "float", "int", "str") if k in str(types[key]))
        try:
            if kind == "bool":
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                value = text.lower() in ("true", "1", "yes")
            else:
                value = {"float": float, "int": int, "str": str}[kind](text)
        except ValueError:
            raise FERError(f"--set {assignment!r}: {key} takes a {kind} value, got {text!r}") from None
        changes[key] = check(key, value, f"--set {key}") if key in CONSTRAINTS else value
    return replace(recipe, **changes) if changes else recipe


def preset_recipe(preset):
    """The recipe of a family's CPU size (``models.presets.CpuPreset``): its base recipe with its fields."""
    return replace(RECIPES[preset.base_recipe], name=f"{preset.base_recipe}+cpu", **preset.recipe)


def resolve_recipe(recipe, variant):
    """The complete recipe for ``variant``: ``recipe`` is a name in ``RECIPES``, a :class:`Recipe`,
    or ``None`` for the variant's own default (``variant.recipe``)."""
    recipe = recipe if recipe is not None else variant.recipe
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise FERError(f"unknown recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
        recipe = RECIPES[recipe]
    return replace(
        recipe,
        learning_rate=recipe.learning_rate or variant.learning_rate,
        batch_size=recipe.batch_size or variant.batch_size,
        augmentation=recipe.augmentation or ("bialek" if variant.augment_in_training else "none"),
    )


def build_optimizer(recipe):
    """The Keras optimizer of ``recipe`` (its learning rate is a variable the schedule assigns)."""
    import keras

    common = {"learning_rate": recipe.learning_rate}
    if recipe.ema_momentum:
        common.update(use_ema=True, ema_momentum=recipe.ema_momentum)
    if recipe.weight_decay:
        common["weight_decay"] = recipe.weight_decay
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=recipe.momentum, nesterov=True, **common)
    if recipe.optimizer == "adamw":
        return keras.optimizers.AdamW(**common)
    return keras.optimizers.Adam(**common)


def schedule_factor(recipe, progress):
    """The learning-rate multiplier at ``progress`` epochs out of the plan, as (progress, planned).

    ``progress`` is a pair (epochs done, including the fraction of the current one; planned epochs).
    Reaches ``final_lr_ratio`` (cosine) or 0 (one-cycle) exactly at the planned end; with
    "cosine_restarts", at the end of each of the ``cycles`` equal cycles, restarting at the peak.
    """
    done, planned = progress
    if not recipe.scheduled:
        return 1.0
    warmup_epochs = recipe.warmup_epochs
    if recipe.snapshots:  # each cycle is a cosine of its own; the warm-up belongs to the first
        length = planned / recipe.cycles
        cycle = min(int(done // length), recipe.cycles - 1)
        done, planned, warmup_epochs = done - cycle * length, length, warmup_epochs if cycle == 0 else 0.0
    warmup = min(warmup_epochs, planned / 2)
    if done < warmup:
        return max(done / warmup, 0.02)
    left = max(planned - warmup, 1e-9)
    fraction = min(max((done - warmup) / left, 0.0), 1.0)
    if recipe.schedule == "onecycle":
        return 1.0 - fraction
    end = recipe.final_lr_ratio
    return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * fraction))


def plan_first_epochs(minutes, seconds_per_epoch):
    """Epochs that fit in ``minutes`` at ``seconds_per_epoch``; a budget too small for one epoch is
    a user error that says how long one epoch takes."""
    fits = int(minutes * 60 // seconds_per_epoch)
    if fits < 1:
        raise FERError(f"--time-budget {minutes:g} min is too small for one epoch, which takes about "
                       f"{seconds_per_epoch / 60:.1f} min here; give at least {math.ceil(seconds_per_epoch / 60)}")
    return fits
