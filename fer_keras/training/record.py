"""What training writes into its run folder besides the model: the run folder itself (new, or the
interrupted one resumed), the :class:`~fer_keras.runs.config.RunConfig`, the test and validation
splits, the training record (``trained.json``) and the closing summary."""

import hashlib
import json
import sys
import time
from datetime import datetime

import numpy as np

from fer_keras.data.hashing import hashes_in, image_hashes
from fer_keras.runs.config import DataRecord, PreparedRecord, RunConfig
from fer_keras.runs.folder import Run, find_resumable, write_json
from fer_keras.runtime import versions
from fer_keras.training.recipes import resolve_recipe
from fer_keras.training.stages import stage_size


NEW_RECIPE_DEFAULTS = {("distill_tta", "none"), ("distill_consistent", False), ("ema_momentum", 0.0)}
"""Recipe fields added after runs recorded their keys, at their defaults: left out of the key."""


def resume_key(options, data):
    """What makes two runs the same run: an interrupted one with this key is resumed. Settings added over
    time join the key only when they differ from their default, so older runs keep their keys."""
    variant, recipe, teacher = options.variant, data.recipe, data.teacher
    recipe_record = {k: v for k, v in recipe.to_dict().items() if (k, v) not in NEW_RECIPE_DEFAULTS}
    key = ([variant.name, data.dataset.fingerprint, options.seed, data.epochs, data.batch_size, data.policy,
            data.per_class, options.model_kwargs]
           + ([recipe_record, options.time_budget]
              if recipe != resolve_recipe("paper", variant) or options.time_budget else [])
           + ([[s.to_dict() for s in options.stages], options.extra_train and options.extra_train.fingerprint(),
               options.extra_per_class] if options.staged or options.extra_train else [])
           + ([options.size, options.precise_bn] if options.size != "paper" or options.precise_bn != "auto" else [])
           + ([teacher.record()] if teacher else [])
           + ([data.init.record()] if data.init else [])
           + ([options.budget_clock] if options.budget_clock != "wall" else [])
           + (["hold_out_test"] if options.hold_out_test else []))  # resumed without it, it would score the test
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def open_run(options, key, batches, before_creating=None):
    """(run, its earlier RunConfig or None): the interrupted run with ``key``, rolled back to its last
    committed epoch and ``batches`` moved to it, or a new run folder. A staged run starts afresh.
    ``before_creating(before)``: the last checks (the snapshot plan), run before a folder is made or changed."""
    from fer_keras.training.callbacks import roll_back_to

    run = None if options.fresh else find_resumable(options.output_dir, key)
    if options.staged and run is not None:
        print(f"not resuming {run.path}: a staged run starts afresh")
        run = None
    if run is None:
        if before_creating is not None:
            before_creating(None)
        return Run.create(options.output_dir, options.variant.name), None  # once every check has passed
    print(f"resuming the interrupted run in {run.path}")
    before = run.check_resumable()  # every file it resumes from, before any is changed
    if before_creating is not None:
        before_creating(before)
    run.remove_partial_files()
    roll_back_to(run, run.committed_epochs() or 0)  # an epoch that was not committed runs again
    batches.start_at(len(run.read_history()))  # the batch order an uninterrupted run had
    return run, before


def run_config(options, data, fit, key, before=None):
    """The :class:`RunConfig` of this run (``before``: the config of the interrupted run it resumes)."""
    dataset, cleaned, prepared = data.dataset, data.cleaned, data.prepared
    created, resumed = datetime.now().isoformat(timespec="seconds"), []
    if before is not None:
        created, resumed = before.created or created, list(before.resumed) + [created]
    return RunConfig(
        variant=options.variant.to_dict(), resume_key=key, command=command_line(),
        data=DataRecord(source=dataset.source, fingerprint=dataset.fingerprint, rows=len(dataset),
                        label_set=dataset.label_set.name, classes=list(dataset.label_set.classes),
                        ferplus_mode=options.ferplus_mode if dataset.label_set.name == "ferplus" else None,
                        rows_after_cleaning=len(cleaned), cleaning_notes=list(cleaned.notes),
                        streamed=options.stream,
                        validation_cache_batches=options.stream_cache if options.stream else None),
        prepared=PreparedRecord(train=len(prepared.x_train), val=len(prepared.x_val), test=len(prepared.x_test),
                                sampling=prepared.sampling, protocol=data.protocol, leaky=data.leaky,
                                class_weight=prepared.class_weight,
                                notes=list(prepared.notes) + ([data.leak] if data.leak else [])),
        stages=[{**stage.to_dict(), "epochs": n, "images": stage_size(prepared, stage)}
                for stage, n in zip(options.stages, fit.stage_epochs)],
        extra_train=prepared.extra, seed=options.seed, epochs=fit.epochs, batch_size=data.batch_size,
        precision_policy=data.policy, steps_per_execution=data.steps_per_execution,
        distribution=data.placement.to_dict(), per_class=data.per_class, model_kwargs=options.model_kwargs or {},
        recipe=data.recipe.to_dict(), time_budget_minutes=options.time_budget,
        budget_clock=options.budget_clock if options.time_budget else None, snapshots=fit.snapshots,
        size=options.size, deviations=list(options.deviations), precise_bn=options.precise_bn,
        teacher=data.teacher.record() if data.teacher else None, init=data.init.record() if data.init else None,
        versions=versions(), created=created,
        resumed=resumed)


def record_splits(run, prepared, dataset):
    """Record the test and the validation split in ``run``: nothing after training prepares the data again."""
    run.write_test_split(**recorded_test_split(prepared, dataset))
    run.write_val_split(**recorded_val_split(prepared))


def faces_of(x):
    """Model input (N×48×48×1 floats in [0, 1], or a streamed folder's lazy images) as uint8 N×48×48."""
    if hasattr(x, "decode"):
        return x.decode()
    return np.rint(np.asarray(x)[..., 0] * 255).astype(np.uint8)


def recorded_test_split(prepared, dataset):
    """What the run folder records of its test split (see ``Run.write_test_split``)."""
    images = faces_of(prepared.x_test)
    training = dataset.usage == "Training"
    in_training = (hashes_in(image_hashes(images), dataset.subset(training).content_hashes())
                   if training.any() and not prepared.leaky else np.zeros(len(images), dtype=bool))
    return {"images": images, "labels": prepared.labels_test, "emotions": prepared.test_emotions,
            "ids": prepared.test_ids, "in_training": in_training}


def recorded_val_split(prepared):
    """What the run folder records of its validation split (see ``Run.write_val_split``): the model's
    labels (0/1 for one-vs-rest, the majority of a FER+ vote distribution) and the label set's."""
    from fer_keras.data.pre_proc_data import labels_of

    images, labels = faces_of(prepared.x_val), labels_of(prepared.y_val)
    emotions = labels if prepared.val_emotions is None else prepared.val_emotions
    ids = np.arange(len(labels)).astype(str) if prepared.val_ids is None else prepared.val_ids
    return {"images": images, "labels": labels, "emotions": emotions, "ids": ids}


def command_line():
    """How this process was started, as a user would type it (``python -m fer_keras.train …``)."""
    if sys.argv and sys.argv[0].endswith(("fer_keras/commands/train.py", "fer_keras\\commands\\train.py")):
        return " ".join(["python -m fer_keras.train", *sys.argv[1:]])
    return " ".join(sys.argv)


def training_record(options, data, fit, run, plan, minutes, health):
    """``trained.json``: the time and plan of the training just done and its health check. ``minutes``:
    (wall, CPU) minutes of the fitting."""
    epoch_seconds = run.read_history().get("epoch_seconds")
    teacher = data.teacher
    return {"seconds": round(time.perf_counter() - data.start, 1), "recipe": data.recipe.name,
            "planned_epochs": plan.epochs, "train_minutes": round(minutes[0], 2),
            "train_minutes_all_sessions": None if epoch_seconds is None else round(epoch_seconds.sum() / 60, 2),
            "train_cpu_minutes": round(minutes[1], 2), "time_budget_minutes": options.time_budget,
            "stages": (",".join(f"{s.data}:{n}" for s, n in zip(options.stages, fit.stage_epochs))
                       if options.staged else None),
            **({"snapshots_written": len(run.snapshot_files())} if fit.snapshots else {}),
            "size": options.size, "deviations": options.deviations, "teacher": teacher.record() if teacher else None,
            **health}


def write_training_record(run, training):
    """Training's commit: a restart evaluates the run, it does not train it again."""
    write_json(run.trained, training)


def read_training_record(run, evaluating=True):
    """The training record of a run trained and killed before its evaluation (or, ``evaluating=False``, before
    it was closed) was written."""
    print(f"{run.path} finished training" + ("; evaluating it" if evaluating else ""))
    return run.read_trained()


def warn_missing_snapshots(fit, training):
    """A snapshot run that the time budget ended early has fewer snapshots than cycles: say so."""
    cycles = fit.data.recipe.cycles
    written = training.get("snapshots_written", cycles)
    if fit.snapshots and written < cycles:
        print(f"WARNING: the run ended after {written} of {cycles} snapshot cycles "
              "(the time budget found the epochs slower than first planned); the partial cycle is not a snapshot")


def report(options, metrics, health, run, leaky):
    """The closing lines: the test numbers, the health check's verdict, what was written where."""
    name = options.variant.name
    best, ran = metrics["best_epoch"], metrics["epochs_run"]
    minutes, seconds = divmod(int(metrics["seconds"]), 60)
    print(f"\n{name}: test accuracy {metrics['test_accuracy']:.3f} (macro-F1 {metrics['test_macro_f1']:.3f})"
          f"{' [LEAKY protocol]' if leaky else ''} — best epoch {best}/{ran} — {minutes}m{seconds:02d}s")
    if health.get("learning_check"):
        print(f"{name}: {health['learning_check']}")
    print(f"wrote {run.path}/ (best.keras, history.csv, logs/, config.json, test_split.npz, val_split.npz) and "
          f"{options.results_dir}/{run.name}/ (metrics.json, report.md, figures)")


def report_held_out(options, training, run, leaky):
    """The closing lines of a ``--hold-out-test`` run: the validation split's numbers (the best checkpoint, after
    precise BatchNorm) instead of the test split's, and the command that scores the test split when chosen."""
    name = options.variant.name
    best, ran = run.best_epoch(options.variant.callbacks.checkpoint_monitor)
    minutes, seconds = divmod(int(training["seconds"]), 60)
    validation = training.get("validation") or {}
    numbers = (f"validation accuracy {validation['accuracy']:.3f} (macro recall {validation['macro_recall']:.3f})"
               if validation else "trained")
    print(f"\n{name}: {numbers}{' [LEAKY protocol]' if leaky else ''} — best "
          f"epoch {best}/{ran} — {minutes}m{seconds:02d}s")
    if training.get("learning_check"):
        print(f"{name}: {training['learning_check']}")
    print(f"test split held out (--hold-out-test): nothing scored on it, no {options.results_dir}/{run.name}/. "
          f"Once this run is chosen: python -m fer_keras.evaluate --run {run.path}")
    print(f"wrote {run.path}/ (best.keras, history.csv, logs/, config.json, trained.json, test_split.npz, "
          "val_split.npz)")
