"""Warm start: ``python -m fer_keras.train … --init RUN|packaged`` begins from a trained model's weights.

The starting model must be the same architecture (every weight of the same shape, in the same order)
and an honest run of the same data, split and label set, checked as distillation checks its teachers
(``fer_keras.training.distill``): a start that had seen the student's validation or test faces would
leak them. ``packaged`` is the shipped FERNet-S, checked by its model card. A saved model has no
auxiliary heads (GoogLeNet's are for training only), so the weights go into the training model's
one-output model and its auxiliary heads start fresh. The optimizer starts afresh; the recipe's
schedule (warm-up included) runs as planned. A resumed run restores its own weights over these.
"""

from dataclasses import dataclass
from pathlib import Path

from fer_keras.errors import FERError
from fer_keras.training.distill import PACKAGED, check_teacher, packaged_teacher


@dataclass(frozen=True)
class WarmStart:
    """Where the first weights come from: the option as given, and the model file it names."""

    source: str
    model_file: Path

    def record(self):
        """What ``config.json`` records of the warm start."""
        return {"from": self.source, "model_file": str(self.model_file)}

    def load_into(self, model):
        """Copy the starting model's weights into ``model``, or a one-line error when they do not fit."""
        from fer_keras.models.registry import inference_model
        from fer_keras.runs.model_files import load_model

        start, target = load_model(self.model_file), inference_model(model)
        shapes = [tuple(w.shape) for w in start.weights]
        wanted = [tuple(w.shape) for w in target.weights]
        if shapes != wanted:
            first = next((i for i, (a, b) in enumerate(zip(shapes, wanted)) if a != b), min(len(shapes), len(wanted)))
            raise FERError(f"--init {self.source}: its model ({start.name}, {len(shapes)} weights) does not have "
                           f"the architecture of {model.name} ({len(wanted)} weights; the first difference is at "
                           f"weight {first})")
        target.set_weights(start.get_weights())
        return model


def warm_start(source, prepared, dataset, variant):
    """The checked :class:`WarmStart` of ``--init source`` for a run of ``variant`` on ``dataset``, or ``None``."""
    if source is None:
        return None
    if prepared.leaky:
        raise FERError("--init: the run's own protocol is LEAKY; warm starts are for honest runs only")
    if str(source) == PACKAGED:
        return WarmStart(PACKAGED, packaged_teacher(dataset.fingerprint, dataset.source, variant, flag="--init").best)
    run = check_teacher(source, dataset, prepared.test_ids, variant.split, flag="--init")
    return WarmStart(str(source), run.best)
