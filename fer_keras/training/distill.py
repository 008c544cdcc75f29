"""Knowledge distillation (Hinton et al. 2015): ``python -m fer_keras.train … --teacher RUN [RUN ...]``.

Each training target becomes ``(1 − w) · label + w · soften(mean teacher probabilities, T)``, with
``soften(p, T) = p^(1/T) / Σ p^(1/T)``, ``w`` the recipe's ``distill_weight`` and ``T`` its
``distill_temperature``: the student's cross-entropy then pulls it towards the teachers' "dark
knowledge" (which wrong classes look alike) as well as towards the label. The teachers' probabilities
on the (un-augmented) training faces are computed once and cached in each teacher's run folder. With
``--set distill_consistent=true`` the teachers instead see every augmented training batch the student
sees (:meth:`Teacher.mix`, called by ``training.batches.EpochBatches``): each view gets its own soft
target, as "consistent teaching" asks (Beyer et al. 2022, "Knowledge distillation: A good teacher is
patient and consistent") — a teacher's targets on its own training faces are nearly its labels.

Teachers must be honest runs of the same data, split and label set as the student, taking its input
size: a teacher that saw the student's validation or test faces would leak them into its targets.
``--teacher packaged`` is the model fer_keras ships (FERNet-S, ``fer_keras.models.pretrained``), checked by its
model card instead: trained on FER2013's Training split (no cleaning; copies of PublicTest/PrivateTest faces
removed), so it teaches students of the same data on the Usage split without cleaning.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_keras.errors import FERError
from fer_keras.runs.folder import Run


@dataclass(frozen=True, eq=False)
class Teacher:
    """The teachers' mixed training targets and what produced them."""

    runs: tuple
    weight: float
    temperature: float
    targets: np.ndarray
    agreement: float
    tta: str = "none"
    models: tuple = ()
    """The loaded teacher models when they teach every augmented batch (consistent teaching), else empty."""

    @property
    def consistent(self):
        return bool(self.models)

    def describe(self):
        return (f"(weight {self.weight:g}, temperature {self.temperature:g}"
                + ("; on every augmented batch" if self.consistent else "")
                + f"; the teachers' top class agrees with the label on {self.agreement:.1%} of the "
                + (f"first {AGREEMENT_FACES} " if self.consistent else "") + "training faces)")

    def record(self):
        """What ``config.json`` records of the teachers."""
        return {"runs": list(self.runs), "weight": self.weight, "temperature": self.temperature,
                **({"tta": self.tta} if self.tta != "none" else {}),
                **({"consistent": True} if self.consistent else {}), "train_agreement": round(self.agreement, 4)}

    def mix(self, x, y):
        """Consistent teaching: the targets of batch ``x`` (as the student sees it) with labels ``y``."""
        views = (x, x[:, :, ::-1]) if self.tta == "flip" else (x,)
        mean = np.mean([np.asarray(model.predict_on_batch(np.ascontiguousarray(view)), dtype=np.float32)
                        for model in self.models for view in views], axis=0)
        return ((1 - self.weight) * y + self.weight * soften(mean, self.temperature)).astype(np.float32)


def soften(probabilities, temperature):
    """``p^(1/T)`` renormalised per row: T > 1 flattens, T = 1 leaves ``p`` as it is."""
    logits = np.log(np.clip(probabilities, 1e-8, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    soft = np.exp(logits)
    return soft / soft.sum(axis=1, keepdims=True)


PACKAGED = "packaged"
"""``--teacher packaged``: the shipped FERNet-S."""


@dataclass(frozen=True)
class PackagedTeacher:
    """The shipped model as a teacher: its file, and its outputs computed afresh (the package is read-only)."""

    best: Path
    path: str = PACKAGED

    def teacher_probabilities(self, key):
        return None


def packaged_teacher(fingerprint, source, variant, flag="--teacher"):
    """The shipped FERNet-S as a teacher of ``variant`` on the data of ``fingerprint`` read from ``source`` (or,
    with ``flag="--init"``, as its starting weights; ``"--members"``, as a soup's ingredient), or a one-line
    error when its model card's data, split or cleaning differ from the student's."""
    from fer_keras.models.pretrained import default_model_path, model_card

    card = model_card()
    if card.get("data_fingerprint") != fingerprint:
        raise FERError(f"{flag} {PACKAGED}: the shipped FERNet-S was trained on FER2013 (fingerprint "
                       f"{card.get('data_fingerprint')}), not on {source} ({fingerprint})")
    if variant.split != "usage" or variant.cleaning:
        raise FERError(f"{flag} {PACKAGED}: the shipped FERNet-S learned FER2013's Usage split without cleaning; "
                       f"{variant.name} uses split {variant.split!r} and cleaning {list(variant.cleaning)}: its "
                       "validation or test faces could be in the teacher's training set")
    return PackagedTeacher(default_model_path())


def check_teacher(path, dataset, test_ids, split_name, flag="--teacher"):
    """The teacher run at ``path`` as a ``Run``, or a one-line error: missing, LEAKY, other data, split or
    label set. ``flag`` names the option in the errors (``--init`` checks its run the same way)."""
    run = Run(Path(path))
    if not run.path.is_dir():
        raise FERError(f"{flag} {path}: no such run folder")
    config = run.read_config()
    if config.leaky:
        raise FERError(f"{flag} {path} is a LEAKY run (it trained on copies of test images): it must be "
                       "an honest run")
    if config.data.fingerprint != dataset.fingerprint:
        raise FERError(f"{flag} {path} was trained on other data ({config.data.source}); it must be "
                       "a run of the student's data")
    if list(config.data.classes or []) != list(dataset.label_set.classes):
        raise FERError(f"{flag} {path} predicts {config.data.label_set}'s classes, not "
                       f"{dataset.label_set.name}'s")
    if config.variant.get("split") != split_name or not np.array_equal(
            run.read_test_split()["ids"], np.asarray(test_ids, dtype=str)):
        raise FERError(f"{flag} {path} used another split than the student's ({split_name}): it could "
                       "carry the student's validation or test faces")
    if not run.best.is_file():
        raise FERError(f"{flag} {path} has no {run.best.name}")
    return run


def teacher_model(run, input_shape):
    """``run``'s best model, checked as a teacher of a student taking ``input_shape`` (H×W×C)."""
    from fer_keras.runs.model_files import check_model, load_model

    model = load_model(run.best)
    if tuple(model.input_shape[1:]) != tuple(input_shape):
        raise FERError(f"--teacher {run.path} takes {tuple(model.input_shape[1:])} input, the student "
                       f"{tuple(input_shape)}")
    check_model(model, name=str(run.best), outputs=None)
    return model


def teacher_probabilities(run, x, key, tta="none"):
    """``run``'s probabilities on faces ``x`` (hashed ``key``), computed once and cached in its folder;
    ``tta="flip"`` averages them with those of the mirrored faces (a better teacher for two passes)."""
    from fer_keras.files import atomic_write
    from fer_keras.models.tta import predict_tta

    cache = run.teacher_probabilities(key if tta == "none" else f"{key}-{tta}")
    if cache is not None and cache.is_file():
        found = np.load(cache, allow_pickle=False)
        if found.shape[0] == len(x):
            return found
    probabilities = np.asarray(predict_tta(teacher_model(run, x.shape[1:]), x, tta), dtype=np.float32)
    if cache is not None:
        atomic_write(cache, lambda tmp: np.save(tmp, probabilities))
    return probabilities


AGREEMENT_FACES = 2048
"""Consistent teaching reports its teachers' agreement with the labels on this many training faces (a sample:
the targets themselves come batch by batch)."""


def teacher_targets(paths, prepared, dataset, recipe, variant):
    """The mixed training targets of ``paths`` (teacher run folders, or ``PACKAGED``) for ``prepared``'s
    training split — or, with ``recipe.distill_consistent``, the loaded teachers that make each batch's targets
    (:meth:`Teacher.mix`; nothing is computed for the whole split or cached)."""
    if prepared.leaky:
        raise FERError("--teacher: the student's own protocol is LEAKY; distil into honest runs only")
    runs = [packaged_teacher(dataset.fingerprint, dataset.source, variant) if str(path) == PACKAGED
            else check_teacher(path, dataset, prepared.test_ids, variant.split) for path in paths]
    models, labels = (), prepared.y_train
    if recipe.distill_consistent:  # the teachers themselves; their agreement on a sample of the faces
        from fer_keras.models.tta import predict_tta

        models = tuple(teacher_model(run, prepared.x_train.shape[1:]) for run in runs)
        sample, labels = np.asarray(prepared.x_train[:AGREEMENT_FACES]), labels[:AGREEMENT_FACES]
        mean = np.mean([predict_tta(model, sample, recipe.distill_tta) for model in models], axis=0)
    else:
        x = np.asarray(prepared.x_train)
        key = hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]
        mean = np.mean([teacher_probabilities(run, x, key, recipe.distill_tta) for run in runs], axis=0)
    if mean.shape != labels.shape:
        raise FERError(f"--teacher: the teachers give {mean.shape[1]} classes, the student trains on "
                       f"{labels.shape[1]}")
    weight, temperature = recipe.distill_weight, recipe.distill_temperature
    agreement = float((mean.argmax(1) == labels.argmax(1)).mean())
    targets = (prepared.y_train if models else  # consistent teaching: the labels stay; Teacher.mix makes the targets
               ((1 - weight) * prepared.y_train + weight * soften(mean, temperature)).astype(np.float32))
    return Teacher(tuple(str(p) for p in paths), weight, temperature, targets, agreement, recipe.distill_tta, models)
