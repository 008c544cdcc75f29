"""Training in stages: one run, one ``model.fit`` per stage, each stage continuing from the best
checkpoint so far with its own data, trainable layers and learning rate.

A stage is data (:class:`Stage`), so a schedule is a tuple of them — a variant's ``stages`` or the
``--stages`` option of ``python -m fer_keras.train``:

* Berindeie (2024)'s staged fine-tuning, ``--stages train:20,train+val:5,val:3``: Training
  (validated on PublicTest), then Training + PublicTest, then PublicTest alone. Stages 2 and 3 fit
  the split that validates the run and selects its checkpoint, so such a run is labelled LEAKY
  (protocol "staged"), as the thesis protocol's runs are; the test split (PrivateTest) stays out
  of training until the final evaluation.
* PAtt-Lite's two stages (Ngwe et al. 2024; variant ``pattlite_finetune``): the backbone frozen,
  then its last layers trainable (``unfreeze_last_layers``, BatchNorm kept frozen) at Adam 1e-5.

Within a stage the variant's callbacks run as in a one-stage run (early stopping counts the
stage's own epochs); ``best.keras`` is the best checkpoint of the whole run.
"""

from dataclasses import asdict, dataclass

import numpy as np

from fer_keras.errors import FERError

STAGE_DATA = ("train", "train+val", "val")
"""What a stage fits: the (balanced) training split, plus the validation split, or that alone."""


@dataclass(frozen=True)
class Stage:
    """One stage of a run.

    data:          "train", "train+val" or "val" (see ``STAGE_DATA``); the validation data of every
                   stage is the validation split.
    epochs:        the stage's epochs; ``None``: the run's ``--epochs`` (or the variant's).
    unfreeze:      make the last ``unfreeze`` layers of the backbone trainable, BatchNorm kept frozen
                   (the family's unfreeze policy, ``ModelFamily.backbone``); 0 leaves the model as it is.
    learning_rate: the stage's learning rate; ``None``: the recipe's.
    """

    data: str = "train"
    epochs: int | None = None
    unfreeze: int = 0
    learning_rate: float | None = None

    def __post_init__(self):
        if self.data not in STAGE_DATA:
            raise FERError(f"unknown stage data {self.data!r}; expected one of {', '.join(STAGE_DATA)}")
        if self.epochs is not None and (isinstance(self.epochs, bool) or not int(self.epochs) == self.epochs
                                        or self.epochs < 1):
            raise FERError(f"a stage's epochs must be a positive integer, got {self.epochs!r}")
        if self.unfreeze < 0:
            raise FERError(f"a stage's unfreeze must be 0 or more layers, got {self.unfreeze}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise FERError(f"a stage's learning_rate must be positive, got {self.learning_rate}")

    @property
    def leaky(self):
        """Whether the stage fits the validation split (which selects the checkpoint)."""
        return self.data != "train"

    def to_dict(self):
        return asdict(self)


BERINDEIE_STAGES = (Stage("train"), Stage("train+val"), Stage("val"))
"""Berindeie (2024): Training, then Training + PublicTest, then PublicTest (LEAKY)."""


def parse_stages(text):
    """``--stages``: comma-separated ``DATA[:EPOCHS]``, e.g. ``train:20,train+val:5,val:3`` (a stage
    without ``:EPOCHS`` runs the run's epochs); a one-line FERError that shows the form otherwise."""
    stages = []
    for item in str(text).split(","):
        data, sep, epochs = item.strip().partition(":")
        try:
            stages.append(Stage(data.strip(), int(epochs) if sep else None))
        except (ValueError, FERError) as err:
            raise FERError(f"--stages {text!r}: bad stage {item.strip()!r} ({err}); expected DATA[:EPOCHS], ... "
                           f"with DATA one of {', '.join(STAGE_DATA)}, e.g. train:20,train+val:5,val:3") from None
    return tuple(stages)


def stages_from_records(records):
    """Stages from ``config.json`` / ``Variant.to_dict`` records (dicts) or Stage objects."""
    return tuple(s if isinstance(s, Stage) else Stage(**s) for s in records)


def leak_note(stages):
    """The note a run with LEAKY stages carries (None when no stage fits the validation split)."""
    leaky = [f"{i} ({s.data})" for i, s in enumerate(stages, 1) if s.leaky]
    if not leaky:
        return None
    return (f"LEAKY staged protocol: stage(s) {', '.join(leaky)} fit the validation split, which also selects the "
            "checkpoint; the test split stays out of training until the final evaluation")


def check_stages(stages, recipe, time_budget, protocol):
    """Refuse what a staged run cannot do, before any output."""
    if len(stages) > 1 and (time_budget is not None or recipe.scheduled):
        raise FERError("--stages plans epochs per stage: it does not combine with --time-budget or a scheduled "
                       f"learning rate (recipe {recipe.name!r}, schedule {recipe.schedule!r}); use a plateau or "
                       "constant recipe, e.g. --recipe paper")
    if protocol != "honest" and any(s.leaky for s in stages):
        raise FERError(f"stages on the validation split need the honest protocol, not {protocol!r}")


def stage_arrays(prepared, stage):
    """(x, y) that ``stage`` fits, from a ``Prepared``: the training split, the training plus the
    validation split, or the validation split. The test split is never among them. One split is
    returned as it is (no copy), so a streamed run's lazy images (``FolderImages``) stay lazy."""
    parts = {"train": [(prepared.x_train, prepared.y_train)], "val": [(prepared.x_val, prepared.y_val)]}
    chosen = [pair for name in stage.data.split("+") for pair in parts[name]]
    if len(chosen) == 1:
        return chosen[0]
    return np.concatenate([x for x, _ in chosen]), np.concatenate([y for _, y in chosen])


def stage_size(prepared, stage):
    """How many images ``stage`` trains on (what ``stage_arrays`` would return, without joining them)."""
    return sum(len({"train": prepared.x_train, "val": prepared.x_val}[name]) for name in stage.data.split("+"))


def enter_stage(model, stage, best_path):
    """``model`` with the weights of the checkpoint ``best_path`` (matched by layer name, so a
    training model with auxiliary heads takes its inference model's weights) and ``stage``'s
    layers unfrozen. Compile it afterwards: Keras reads ``trainable`` at compile time."""
    from fer_keras.models.registry import unfreeze_backbone
    from fer_keras.runs.model_files import load_model

    best = load_model(best_path)
    for layer in best.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
    return unfreeze_backbone(model, stage.unfreeze) if stage.unfreeze else model


def stage_logger(number):
    """A callback that logs the stage of each epoch (1-based) as ``stage`` in ``history.csv``."""
    import keras

    class StageLog(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["stage"] = number

    return StageLog()
