"""Train a named variant: ``python -m fer_keras.train --variant NAME``.

data → clean → split → balance (training split only) → build → compile → fit (callback suite)
→ evaluate the best checkpoint on the test split → ``config.json`` + ``metrics.json``.

With ``--stream`` an image folder is indexed once and read from disk batch by batch
(``fer_keras.data.stream``): same cleaning, split and cross-split dedupe, no pixels held but the
test split's and a bounded LRU of validation batches.
"""

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras.cli import import_keras_quietly, user_errors_exit
from fer_keras.constraints import check, check_options
from fer_keras.data import SYNTHETIC, load
from fer_keras.data.eda import clean
from fer_keras.data.extra import ExtraFaces, read_extra_faces
from fer_keras.data.hashing import hashes_in, image_hashes
from fer_keras.data.io import folder_layout
from fer_keras.data.labelsets import add_label_options, get_label_set, label_options_of
from fer_keras.data.stream import STREAM_SAMPLINGS, FolderIndex, index_folder
from fer_keras.errors import FERError
from fer_keras.files import atomic_write
from fer_keras.models.presets import CPU_PRESETS, SIZES
from fer_keras.runs.folder import Run, check_output_dir, find_resumable, write_json
from fer_keras.runtime import mixed_precision_policy, training_steps_per_execution, versions
from fer_keras.training import distill
from fer_keras.training.distribute import parse_devices, placement as data_parallel_placement
from fer_keras.training.health import PRECISE_BN_MODES, check_precise_bn, check_trained_run
from fer_keras.training.recipes import build_optimizer, override, preset_recipe, resolve_recipe
from fer_keras.training.stages import (Stage, check_stages, enter_stage, leak_note, parse_stages, stage_arrays,
                                       stage_logger, stage_size, stages_from_records)
from fer_keras.training.variants import DEFAULT_VARIANT, VARIANTS, at_size, get_variant


def prepare(variant, data, seed, per_class=None, extra_train=None, extra_per_class=None):
    """The variant's model-ready arrays (see ``pre_proc_data``).

    ``per_class`` overrides the balancing target: images per class for "augment" (Białek's 8000)
    and positives for one-vs-rest (6000, with ``per_class // 6`` drawn from each other class).
    ``extra_train`` (``ExtraFaces``) joins the training split, at most ``extra_per_class`` per emotion.
    """
    from fer_keras.data.pre_proc_data import pre_proc_binary, pre_proc_data, pre_proc_stream

    data = clean(data, variant.cleaning)
    if variant.binary and data.label_set.name != "fer2013":
        raise FERError(f"one-vs-rest variant {variant.name} trains on FER2013's labels, not {data.label_set.name}'s; "
                       "choose a multi-class variant")
    if extra_train is not None and data.label_set.name != "fer2013":
        raise FERError(f"--extra-train folders name FER2013's seven emotions; {data.source} uses the "
                       f"{data.label_set.name} label set: drop --extra-train or train on FER2013")
    if variant.binary and extra_train is not None:
        raise FERError("--extra-train adds seven-class faces: use it with a seven-class variant, not a one-vs-rest one")
    if isinstance(data, FolderIndex):
        return data, pre_proc_stream(data, variant.sampling, variant.split, seed=seed)
    if variant.binary:
        n_positive = per_class or 6000
        return data, pre_proc_binary(data, variant.binary_emotion, variant.split, n_positive=n_positive,
                                     n_per_negative=n_positive // 6, seed=seed)
    return data, pre_proc_data(data, sampling=variant.sampling, protocol=variant.protocol,
                               split_method=variant.split, n_per_class=per_class or 8000, seed=seed,
                               extra_train=extra_train, extra_per_class=extra_per_class)


STREAM_CACHE_BATCHES = 64
"""``--stream-cache``: validation batches kept decoded (float32), at most 64 × batch size × 9.2 kB."""


NON_FOLDER_LABEL_SETS = ("ferplus", "rafdb")
"""Label sets whose data load from their own files (FER+'s fer2013new.csv, RAF-DB's partition file),
not from class folders ROOT/<split>/<class>/*."""


def folder_label_set(path, labels=None):
    """The label set of the folder ``path``: ``labels`` if given, else detected as ``fer_keras.data.load``
    does (a folder holding RAF-DB's partition file is RAF-DB, any other FER2013)."""
    from fer_keras.data.datasets import rafdb_partition

    return get_label_set(labels if labels is not None else "rafdb" if rafdb_partition(path) else "fer2013")


def check_streamable(variant, data, labels=None, stages=None, extra_train=None):
    """``--stream`` reads an image folder batch by batch: a one-line error for what it cannot do.
    Returns the label set its class folders name. ``stages``: the run's (default: the variant's)."""
    path = Path(str(data)).expanduser()
    if str(data) == SYNTHETIC or path.is_file():
        raise FERError(f"--stream reads an image folder ROOT/<split>/<class>/*.png, not {data}; "
                       "drop --stream to load it into memory")
    label_set = folder_label_set(path, labels)
    if label_set.name in NON_FOLDER_LABEL_SETS:
        raise FERError(f"--stream reads class folders ROOT/<split>/<class>/*.png; {label_set.name} data load from "
                       "their own label file (and FER+'s vote distributions are not streamed): drop --stream")
    if extra_train is not None:
        raise FERError("--stream does not combine with --extra-train (its faces are held in memory and added before "
                       "balancing): drop one of them")
    stages = stages_from_records(variant.stages if stages is None else stages)
    if any(stage.data != "train" for stage in stages):
        raise FERError(f"--stream: stages {','.join(s.data for s in stages)} fit the validation split, which a "
                       "streamed run reads only to validate; use stages on train only, or drop --stream")
    reason = ("is one-vs-rest" if variant.binary else f"uses the {variant.protocol} protocol"
              if variant.protocol != "honest" else None if variant.sampling in STREAM_SAMPLINGS
              else f"balances with {variant.sampling}")
    if reason:
        raise FERError(f"--stream: variant {variant.name!r} {reason}, which needs every image in memory; use a "
                       f"multi-class honest variant with sampling {', '.join(STREAM_SAMPLINGS)}, or drop --stream")
    return label_set


def demo_per_class(data):
    """On the small synthetic set, balance to its largest training class instead of 8000."""
    return int(np.bincount(data.labels[data.usage == "Training"]).max())


def set_precision(mixed):
    """Set and return ``--mixed-precision``'s policy (``runtime.mixed_precision_policy``), saying which."""
    import keras

    policy, note = mixed_precision_policy(mixed)
    if note:
        print(note)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def train(variant_name=DEFAULT_VARIANT, data=SYNTHETIC, epochs=None, batch_size=None, mixed_precision=False,
          seed=0, output_dir="callbacks", results_dir="results", fresh=False, verbose=None, per_class=None,
          model_kwargs=None, recipe=None, time_budget=None, devices=None, multi_worker=False, labels=None,
          ferplus_mode="majority", stages=None, extra_train=None, extra_per_class=None, stream=False,
          stream_cache=STREAM_CACHE_BATCHES, size="paper", precise_bn="auto", teachers=(), budget_clock="wall"):
    """Train ``variant_name`` and return the summary dict written to ``metrics.json``.

    ``per_class`` overrides the balancing target (see ``prepare``); ``model_kwargs`` go to the
    model's builder (e.g. ``{"base_size": 112}`` for a faster transfer model). ``recipe`` is a
    name in ``fer_keras.training.recipes.RECIPES`` or a ``Recipe`` (default: the variant's own).
    ``time_budget`` (minutes) plans the run to end at that budget: ``epochs`` is then only a cap.
    ``devices`` (an integer or ``"all"``; default one device, no strategy) and ``multi_worker``
    (TF_CONFIG / ``keras.distribution.initialize()``) train data-parallel (``fer_keras.training.distribute``):
    the global batch is ``batch_size``, split across the devices; the learning rate is unchanged.
    ``labels`` names the data's label set (``fer_keras.data.labelsets``; default: detected from the data) and
    ``ferplus_mode`` FER+'s labels ("majority" or "probability"); the model gets one output per class.
    ``stages`` (``fer_keras.training.stages.Stage`` tuple, default the variant's) trains in stages, each
    ``epochs`` long unless it says; a stage that fits the validation split makes the run LEAKY.
    ``extra_train``: a folder ``<emotion>/*.png|jpg`` (or ``ExtraFaces``) of faces added to the
    training split only, at most ``extra_per_class`` per emotion (``fer_keras.data.extra``).
    ``stream`` reads the image folder ``data`` from disk batch by batch (``fer_keras.data.stream``),
    keeping ``stream_cache`` decoded validation batches in an LRU; its class folders name the label
    set's classes (``labels``, default FER2013's), and its stages fit the training split only.
    """
    import keras

    from fer_keras.data.augment import augmenter
    from fer_keras.training.batches import EpochBatches, per_output
    from fer_keras.training.callbacks import callback_suite, roll_back_to
    from fer_keras.evaluation.evaluate import evaluate_run
    from fer_keras.models import MODEL_FAMILIES, build_model, compile_model, inference_model
    from fer_keras.models.blocks import AUX_OUTPUTS, MAIN_OUTPUT
    from fer_keras.data.pre_proc_data import labels_of
    from fer_keras.training.schedules import (BUDGET_CLOCKS, EpochTimer, RunPlan, ScheduledLearningRate, TimeBudget,
                                              check_budget_fits)
    from fer_keras.training.snapshots import SnapshotCheckpoint, cycle_epochs

    variant, preset, deviations = at_size(get_variant(variant_name), size)
    if preset is not None:
        model_kwargs = {**preset.model, **(model_kwargs or {})}
        recipe = preset_recipe(preset) if recipe is None else recipe
    check_precise_bn(precise_bn)
    check_output_dir(output_dir, "--output-dir")
    check_output_dir(results_dir, "--results-dir")
    recipe = resolve_recipe(recipe, variant)
    stages = stages_from_records(variant.stages if stages is None else stages) or (Stage(),)
    check_stages(stages, recipe, time_budget, variant.protocol)
    if extra_per_class is not None and extra_per_class < 1:
        raise FERError(f"--extra-per-class must be a positive integer, got {extra_per_class}")
    stream_labels = check_streamable(variant, data, labels, stages, extra_train) if stream else None
    if extra_train is not None and not isinstance(extra_train, ExtraFaces):
        extra_train = read_extra_faces(extra_train)
    placement = data_parallel_placement(devices, multi_worker)  # wrong device counts fail before any output
    check("time_budget", time_budget, "--time-budget")
    verbose = verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)  # bars on a terminal only
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    dataset = (index_folder(data, label_set=stream_labels) if stream
               else load(data, labels=labels, ferplus_mode=ferplus_mode))
    if epochs is None and time_budget is not None:
        epochs = BUDGET_EPOCH_CAP
    elif epochs is None:
        epochs = variant.demo_epochs if str(data) == SYNTHETIC else variant.epochs
        if str(data) == SYNTHETIC:
            print(f"synthetic demo data: {epochs} epochs (the paper's {variant.epochs} apply to real data; "
                  "--epochs overrides)")
    if per_class is None and str(data) == SYNTHETIC and (variant.sampling == "augment" or variant.binary):
        per_class = demo_per_class(dataset)
        print(f"synthetic demo data: balancing to {per_class} images per class (8000 / 6000 on real data; "
              "--per-class overrides)")
    batch_size = batch_size or recipe.batch_size
    placement.check_batch_size(batch_size)
    steps_per_execution = placement.steps_per_execution(training_steps_per_execution())
    recipe = replace(recipe, batch_size=batch_size)
    policy = set_precision(mixed_precision)
    cleaned, prepared = prepare(variant, dataset, seed, per_class, extra_train, extra_per_class)
    if prepared.leaky:
        print("WARNING: leaky protocol — test images were over-sampled into training; "
              "numbers from this run are for comparison only")
    leak = leak_note(stages)
    protocol, leaky = ("staged", True) if leak else (prepared.protocol, prepared.leaky)
    if leak:
        print(f"WARNING: {leak}; numbers from this run compare only with other LEAKY runs")
    teacher = None
    if teachers:
        teacher = distill.teacher_targets(teachers, prepared, dataset, recipe, variant)
        prepared = replace(prepared, y_train=teacher.targets)
        print(f"distillation: {len(teachers)} teacher(s) {teacher.describe()}")
    if prepared.extra:
        print(f"extra training faces: {prepared.extra['added']} added of {prepared.extra['images']} "
              f"({prepared.extra['test_copies']} exact copies of validation/test images refused, "
              f"{prepared.extra['no_face']} without a face, {prepared.extra['over_per_class']} over --extra-per-class)")
    staged = len(stages) > 1

    resume_key = hashlib.sha256(json.dumps(
        [variant.name, dataset.fingerprint, seed, epochs, batch_size, policy, per_class,
         model_kwargs] + ([recipe.to_dict(), time_budget]
                          if recipe != resolve_recipe("paper", variant) or time_budget else [])
        + ([[s.to_dict() for s in stages], extra_train and extra_train.fingerprint(), extra_per_class]
           if staged or extra_train else [])
        + ([size, precise_bn] if size != "paper" or precise_bn != "auto" else [])
        + ([teacher.record()] if teacher else []) + ([budget_clock] if budget_clock != "wall" else [])
    ).encode()).hexdigest()[:16]

    # GoogLeNet trains with auxiliary classifiers: the same labels on each output; best.keras drops them
    family = MODEL_FAMILIES.get(variant.model)  # (None for a builder a test registered by hand)
    aux_outputs = family is not None and family.aux_outputs
    outputs, training_kwargs = ((MAIN_OUTPUT, *AUX_OUTPUTS), {"auxiliary": True}) if aux_outputs else (None, {})

    def compiled_model(model=None, learning_rate=None):
        """A new model (or ``model``) compiled by the recipe, at ``learning_rate`` if given."""
        with placement.scope():  # a tf.distribute strategy's variables (JAX: their layout) are made here
            try:
                model = model if model is not None else build_model(
                    variant.model, binary=variant.binary,
                    num_classes=1 if variant.binary else dataset.label_set.num_classes,
                    **training_kwargs, **(model_kwargs or {}))
            except (ValueError, TypeError) as err:
                if not model_kwargs or isinstance(err, FERError):
                    raise
                raise FERError(f"cannot build {variant.model} with {model_kwargs}: {err}") from None
            optimizer = build_optimizer(replace(recipe, learning_rate=learning_rate or recipe.learning_rate))
            return compile_model(model, optimizer=optimizer, binary=variant.binary,
                                 label_smoothing=recipe.label_smoothing, steps_per_execution=steps_per_execution)

    augment = augmenter(recipe.augmentation, seed, recipe.crop_padding, recipe.erase_probability)

    def stage_batches(stage):
        x, y = stage_arrays(prepared, stage)
        weights = (None if prepared.class_weight is None
                   else np.array([prepared.class_weight.get(k, 1.0) for k in labels_of(y)], dtype=np.float32))
        x, y, weights = placement.split_evenly(x, y, weights)
        return EpochBatches(x, y, batch_size, seed, weights, augment=augment, outputs=outputs)

    x_val, y_val, weights_val = placement.split_evenly(prepared.x_val, prepared.y_val)
    fit_data = {"x": stage_batches(stages[0])}
    stage_epochs = [stage.epochs or epochs for stage in stages]
    first_plan = sum(stage_epochs)
    if time_budget is not None:  # a throwaway model's steps: a budget too small for one epoch fails here
        with placement.scope():
            first_plan = min(epochs, check_budget_fits(compiled_model(), fit_data, time_budget,
                                                       clock=BUDGET_CLOCKS[budget_clock]))
        keras.utils.set_random_seed(seed)
    model = compiled_model()

    run = None if fresh else find_resumable(output_dir, resume_key)
    created, resumed, before = datetime.now().isoformat(timespec="seconds"), [], {}
    if staged and run is not None:
        print(f"not resuming {run.path}: a staged run starts afresh")
        run = None
    if run is not None:
        print(f"resuming the interrupted run in {run.path}")
        before = run.read_config()
        created, resumed = before.get("created", created), before.get("resumed", []) + [created]
        run.remove_partial_files()
        roll_back_to(run, run.committed_epochs() or 0)  # an epoch that was not committed runs again
        fit_data["x"].start_at(len(run.read_history()))  # the batch order an uninterrupted run had
    else:
        run = Run.create(output_dir, variant.name)
    snapshots = None
    if recipe.snapshots:  # the cycle length is fixed at the first plan; a resumed run keeps the recorded one
        length = cycle_epochs(recipe.cycles, first_plan, before.get("snapshots", {}).get("cycle_epochs"))
        snapshots = {"cycles": recipe.cycles, "cycle_epochs": length}
        epochs = first_plan = length * recipe.cycles
        stage_epochs = [epochs]  # one stage (check_stages): the cycles, not the asked epochs, end the run
        print(f"snapshot ensemble: {recipe.cycles} cycles of {length} epochs, a snapshot after each")
    config = {
        "variant": variant.to_dict(), "resume_key": resume_key, "command": command_line(),
        "data": {"source": dataset.source, "fingerprint": dataset.fingerprint, "rows": len(dataset),
                 "label_set": dataset.label_set.name, "classes": list(dataset.label_set.classes),
                 "ferplus_mode": ferplus_mode if dataset.label_set.name == "ferplus" else None,
                 "rows_after_cleaning": len(cleaned), "cleaning_notes": list(cleaned.notes),
                 "streamed": stream, "validation_cache_batches": stream_cache if stream else None},
        "prepared": {"train": len(prepared.x_train), "val": len(prepared.x_val), "test": len(prepared.x_test),
                     "sampling": prepared.sampling, "protocol": protocol, "leaky": leaky,
                     "class_weight": prepared.class_weight, "notes": list(prepared.notes) + ([leak] if leak else [])},
        "stages": [{**stage.to_dict(), "epochs": n, "images": stage_size(prepared, stage)}
                   for stage, n in zip(stages, stage_epochs)],
        "extra_train": prepared.extra,
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "precision_policy": policy,
        "steps_per_execution": steps_per_execution, "distribution": placement.to_dict(),
        "per_class": per_class, "model_kwargs": model_kwargs or {}, "recipe": recipe.to_dict(),
        "time_budget_minutes": time_budget, "budget_clock": budget_clock if time_budget else None,
        "snapshots": snapshots,
        "size": size, "deviations": deviations, "precise_bn": precise_bn,
        "teacher": teacher.record() if teacher else None,
        "versions": versions(), "created": created, "resumed": resumed,
    }
    write_json(run.config, config)
    run.write_test_split(**recorded_test_split(prepared, dataset))

    plan = RunPlan(first_plan)  # a time budget re-plans it after every epoch
    budget = None if time_budget is None else TimeBudget(time_budget, plan, run.budget, max_epochs=epochs,
                                                         clock=BUDGET_CLOCKS[budget_clock])
    # snapshot cycles end at fixed epochs (not at a share of the budget), whatever the budget re-plans
    schedule = (ScheduledLearningRate(recipe, RunPlan(first_plan)) if snapshots
                else ScheduledLearningRate(recipe, plan, budget and budget.fraction))
    extra = ([EpochTimer()] + ([schedule] if recipe.scheduled else []) + ([budget] if budget else [])
             + ([SnapshotCheckpoint(run.path, snapshots["cycle_epochs"], recipe.cycles)] if snapshots else []))
    if run.trained.is_file():  # trained, killed before its evaluation was written: evaluate it, do not retrain
        print(f"{run.path} finished training; evaluating it")
        training = health = json.loads(run.trained.read_text())
    else:
        train_start, train_cpu_start = time.perf_counter(), time.process_time()
        if stream:  # lazy images: batches in a fixed order, the decoded ones kept in a bounded LRU (across stages)
            validation = EpochBatches(x_val, y_val, batch_size, sample_weight=weights_val, outputs=outputs,
                                      shuffle=False, cache_batches=stream_cache)
        else:
            validation = (x_val, per_output(y_val, outputs)) + (() if weights_val is None else (weights_val,))
        done = 0
        for number, (stage, n_epochs) in enumerate(zip(stages, stage_epochs), 1):
            if number > 1:  # from the best checkpoint so far, with the stage's layers and learning rate
                print(f"\nstage {number}/{len(stages)}: {stage.data}, {n_epochs} epochs"
                      + (f", last {stage.unfreeze} backbone layers unfrozen" if stage.unfreeze else "")
                      + (f", learning rate {stage.learning_rate:g}" if stage.learning_rate else ""))
                with placement.scope():
                    model = compiled_model(enter_stage(model, stage, run.best), stage.learning_rate)
                fit_data = {"x": stage_batches(stage)}
                fit_data["x"].start_at(done)
            callbacks = callback_suite(run.path, variant.callbacks, plateau=recipe.schedule == "plateau",
                                       early_stopping=recipe.early_stopping,
                                       extra=extra + ([stage_logger(number)] if staged else []),
                                       aux_outputs=aux_outputs, since=done)
            with placement.scope():
                # shuffle=False: EpochBatches draws each epoch's batches from [seed, epoch]; Keras' own shuffle of a
                # PyDataset's batch order draws from Python's random, whose position a resumed run does not restore
                model.fit(**fit_data, validation_data=validation, initial_epoch=done, epochs=done + n_epochs,
                          callbacks=callbacks, verbose=verbose, shuffle=False)
            done = len(run.read_history())
            if not run.best.exists():  # no epoch had a finite monitor value: keep the last weights
                atomic_write(run.best, lambda tmp, last=inference_model(model): last.save(tmp))
        train_minutes = (time.perf_counter() - train_start) / 60
        train_cpu_minutes = (time.process_time() - train_cpu_start) / 60
        health = ({} if stream else
                  check_trained_run(run, prepared, precise_bn, seed, binary=variant.binary))
        epoch_seconds = run.read_history().get("epoch_seconds")
        training = {"seconds": round(time.perf_counter() - start, 1), "recipe": recipe.name,
                    "planned_epochs": plan.epochs, "train_minutes": round(train_minutes, 2),
                    "train_minutes_all_sessions": None if epoch_seconds is None else round(epoch_seconds.sum() / 60, 2),
                    "train_cpu_minutes": round(train_cpu_minutes, 2), "time_budget_minutes": time_budget,
                    "stages": ",".join(f"{s.data}:{n}" for s, n in zip(stages, stage_epochs)) if staged else None,
                    **({"snapshots_written": len(run.snapshot_files())} if snapshots else {}),
                    "size": size, "deviations": deviations, "teacher": teacher.record() if teacher else None, **health}
        write_json(run.trained, training)  # training's commit: a restart evaluates, it does not retrain
    if snapshots and training["snapshots_written"] < recipe.cycles:
        print(f"WARNING: the run ended after {training['snapshots_written']} of {recipe.cycles} snapshot cycles "
              "(the time budget found the epochs slower than first planned); the partial cycle is not a snapshot")
    metrics = evaluate_run(run.path, results_dir=results_dir, n_calls=0, extra=training)
    run.finish()
    best, ran = metrics["best_epoch"], metrics["epochs_run"]
    minutes, seconds = divmod(int(metrics["seconds"]), 60)
    print(f"\n{variant.name}: test accuracy {metrics['test_accuracy']:.3f} (macro-F1 {metrics['test_macro_f1']:.3f})"
          f"{' [LEAKY protocol]' if leaky else ''} — best epoch {best}/{ran} — {minutes}m{seconds:02d}s")
    if health.get("learning_check"):
        print(f"{variant.name}: {health['learning_check']}")
    print(f"wrote {run.path}/ (best.keras, history.csv, logs/, config.json, test_split.npz) and "
          f"{results_dir}/{run.name}/ (metrics.json, report.md, figures)")
    return metrics


def command_line():
    """How this process was started, as a user would type it (``python -m fer_keras.train …``)."""
    if sys.argv and sys.argv[0].endswith(("fer_keras/commands/train.py", "fer_keras\\commands\\train.py")):
        return " ".join(["python -m fer_keras.train", *sys.argv[1:]])
    return " ".join(sys.argv)


def recorded_test_split(prepared, dataset):
    """What the run folder records of its test split (see ``Run.write_test_split``)."""
    images = np.rint(prepared.x_test[..., 0] * 255).astype(np.uint8)
    training = dataset.usage == "Training"
    in_training = (hashes_in(image_hashes(images), dataset.subset(training).content_hashes())
                   if training.any() and not prepared.leaky else np.zeros(len(images), dtype=bool))
    return {"images": images, "labels": prepared.labels_test, "emotions": prepared.test_emotions,
            "ids": prepared.test_ids, "in_training": in_training}


def record_test_split(run_dir, data=None):
    """Write ``test_split.npz`` for a run made before runs recorded their test split, so that it can
    join ensembles: the run's data is split again as its ``config.json`` says (its variant's cleaning
    and split, its seed) from ``data`` or the recorded source, checked by fingerprint. Honest,
    in-memory runs only: a LEAKY run's test split was drawn after resampling."""
    import os

    from fer_keras.evaluation.evaluate import run_data, variant_from_config

    run = Run(Path(run_dir))
    config = run.read_config()
    if run.test_split.is_file():
        raise FERError(f"{run.test_split} exists already; nothing to record")
    if not os.access(run.path, os.W_OK):
        raise FERError(f"{run.path} is read-only: cannot write its {run.test_split.name}")
    variant, recorded = variant_from_config(config), config.get("prepared", {})
    if recorded.get("leaky") or variant.protocol != "honest":
        raise FERError(f"{run.path} is a LEAKY run: its test split was drawn after resampling and cannot be made "
                       "again; evaluate its model with --model FILE --data PATH instead")
    if config["data"].get("streamed"):
        raise FERError(f"{run.path} streamed its data and recorded its test split when it trained")
    dataset = run_data(config, data, run.name)
    # balancing touches the training split only: skip it (the test split is the same, in a fraction of the time)
    light = variant if variant.binary else replace(variant, sampling="none")
    _, prepared = prepare(light, dataset, config.get("seed", 0))
    if recorded.get("test") not in (None, len(prepared.x_test)):
        raise FERError(f"splitting {run.path}'s data again gives {len(prepared.x_test)} test images, its config "
                       f"says {recorded['test']}: the data layer changed since the run; its split is not recorded")
    run.write_test_split(**recorded_test_split(prepared, dataset))
    return run.test_split


BUDGET_EPOCH_CAP = 1000
"""With ``--time-budget`` and no ``--epochs``, the budget alone decides when to stop."""


def list_variants():
    width = max(map(len, VARIANTS))
    for name, variant in VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}  [{variant.reference}]")
    print("\nCPU sizes (--size cpu; a deviation from the paper, recorded in config.json):")
    width = max(map(len, CPU_PRESETS))
    for family, preset in CPU_PRESETS.items():
        cost = f"  ~{preset.epoch_cpu_min:g} CPU-min/epoch" if preset.epoch_cpu_min else ""
        print(f"{family:<{width}}  {preset.describe()}{cost}")


@user_errors_exit
def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fer_keras.train",
        description="Train a named experiment (model + cleaning + split + balancing + hyper-parameters) "
        "and evaluate its best checkpoint on the test split.",
        epilog="examples:\n"
        "  python -m fer_keras.train --list\n"
        "  python -m fer_keras.train --variant baseline_cnn                 # synthetic demo data, ~2 min\n"
        "  python -m fer_keras.train --variant five_layer_balanced_filtered --data fer2013.csv.gz\n"
        "  python -m fer_keras.train --variant fernet_s --data fer2013.csv.gz --time-budget 100  # epochs fit 100 min\n"
        "  python -m fer_keras.train --variant baseline_cnn --recipe modern --time-budget 30\n"
        "  python -m fer_keras.train --variant baseline_cnn --devices all   # data-parallel on every GPU\n"
        "  python -m fer_keras.train --variant baseline_cnn --stages train:20,train+val:5,val:3  # LEAKY\n"
        "  python -m fer_keras.train --variant baseline_cnn --extra-train my_faces/ --extra-per-class 200\n"
        "  python -m fer_keras.train --variant pattlite_finetune --set model.weights=imagenet  # two stages\n"
        "  python -m fer_keras.train --variant baseline_cnn --data affectnet/ --labels affectnet --stream"
        "  # folder read from disk\n"
        "  tensorboard --logdir callbacks                                    # watch runs\n"
        "Re-running an interrupted command resumes it from its last completed epoch.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default=DEFAULT_VARIANT, help="experiment name (default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--data", default=SYNTHETIC,
                        help="Kaggle CSV (.csv/.gz/.xz/.zip), image folder, FER+'s fer2013new.csv, a RAF-DB folder, "
                        "or 'synthetic' (default)")
    add_label_options(parser)
    parser.add_argument("--epochs", type=int, help="override the variant's epochs")
    parser.add_argument("--batch-size", type=int, help="override the variant's batch size")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 on a GPU, mixed_bfloat16 on a CPU with native bfloat16 (AMX / "
                        "AVX512-BF16: 1.2-1.5x less CPU per image); float32 with a note elsewhere. Outputs stay "
                        "float32")
    parser.add_argument("--size", default="paper", metavar="|".join(SIZES),
                        help="'paper' (default): the paper's model and recipe; 'cpu': the family's CPU size — thinner, "
                        "smaller input, its own recipe, about 3 CPU-minutes or less per FER2013 epoch (see --list); "
                        "recorded as a deviation from the paper")
    parser.add_argument("--precise-bn", default="auto", metavar="|".join(PRECISE_BN_MODES),
                        help="after the last epoch, re-estimate BatchNorm's statistics on training faces: 'auto' "
                        "(default) keeps them if validation accuracy rises, 'on' always, 'off' never")
    parser.add_argument("--teacher", nargs="+", metavar="RUN", default=[],
                        help="distil from these honest run folders of the same data and split, or 'packaged' (the "
                        "shipped FERNet-S, for FER2013 on the Usage split without cleaning): each training target "
                        "mixes the label with the teachers' softened mean probabilities (--set distill_weight=0.5 "
                        "--set distill_temperature=2); a run teacher's outputs are cached in its folder")
    parser.add_argument("--recipe", metavar="NAME",
                        help="training recipe: 'paper' (the variant's published one), 'modern' (AdamW, "
                        "warm-up + cosine to the planned end, crop + flip: the best in minutes on a CPU), "
                        "'modern_sgd' (SGD-Nesterov, label smoothing: FERNet-S's) or 'snapshot' (modern_sgd with a "
                        "cosine restarting --set cycles=N times, a snapshot saved per cycle; fer-keras ensemble "
                        "--snapshots RUN); default: the variant's")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="change one field of the recipe, e.g. --set optimizer=adamw --set learning_rate=0.01 "
                        "(fields: see fer_keras.training.recipes.Recipe), or one argument of the model's builder, e.g. "
                        "--set model.dropout=0.4 --set model.base_size=112; repeatable")
    parser.add_argument("--time-budget", type=float, metavar="MINUTES",
                        help="plan the run in minutes: epochs are re-planned from the measured epoch time and the "
                        "schedule ends at the budget (--epochs becomes a cap)")
    parser.add_argument("--budget-clock", default="wall", metavar="wall|cpu",
                        help="what --time-budget counts: 'wall' minutes (default) or the training process' 'cpu' "
                        "minutes — the same work however busy the machine is (runs compared at equal CPU minutes)")
    parser.add_argument("--per-class", type=int,
                        help="balancing target: images per class for 'augment' variants (default 8000), "
                        "positives for one-vs-rest (default 6000)")
    parser.add_argument("--devices", metavar="N|all",
                        help="data-parallel training on N (or all) visible devices: keras.distribution.DataParallel "
                        "under JAX, tf.distribute.MirroredStrategy under TensorFlow. The global batch is "
                        "--batch-size, split across the devices (it must be a multiple of N); the learning rate "
                        "is unchanged (scale it with --set learning_rate=...). Default: one device")
    parser.add_argument("--multi-worker", action="store_true",
                        help="one of several processes/machines: TensorFlow's MultiWorkerMirroredStrategy reads "
                        "TF_CONFIG; JAX's keras.distribution.initialize() reads KERAS_DISTRIBUTION_JOB_ADDRESSES, "
                        "_NUM_PROCESSES, _PROCESS_ID (or jax.distributed's cluster detection); see the README")
    parser.add_argument("--stages", metavar="DATA[:EPOCHS],...",
                        help="train in stages, each continuing from the best checkpoint so far: DATA is train, "
                        "train+val or val (the validation split, PublicTest), EPOCHS the stage's (default --epochs), "
                        "e.g. train:20,train+val:5,val:3 (Berindeie 2024). Stages on the validation split make the "
                        "run LEAKY (protocol 'staged'); the test split is never trained on")
    parser.add_argument("--extra-train", metavar="FOLDER",
                        help="add faces from FOLDER/<emotion>/*.png|jpg to the training split only: each photo's face "
                        "found and cropped as predict does (photos without one are skipped), exact copies of "
                        "validation/test images refused; the counts go into config.json")
    parser.add_argument("--extra-per-class", type=int, metavar="N",
                        help="with --extra-train: add at most N faces of each emotion (a seeded random choice)")
    parser.add_argument("--extra-cropped", action="store_true",
                        help="with --extra-train: the images are already-cropped faces (no face detection)")
    parser.add_argument("--stream", action="store_true",
                        help="read the image folder --data from disk batch by batch instead of loading it: for "
                        "folders larger than memory. One pass indexes it (content hashes, so cross-split copies are "
                        "removed as in memory); sampling ros, class_weight or none; the test split is held in memory")
    parser.add_argument("--stream-cache", type=int, default=STREAM_CACHE_BATCHES, metavar="BATCHES",
                        help="with --stream: decoded validation batches kept in an LRU (default: %(default)s; 0: "
                        "none); at most BATCHES × batch size × 9.2 kB")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--output-dir", default="callbacks", help="run folders go here (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="metrics go here (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="start a new run even if an interrupted one matches")
    parser.add_argument("--record-split", metavar="RUN",
                        help="instead of training: write the test_split.npz of a run folder made before runs recorded "
                        "their test split (its data prepared again from its config.json), so it can join ensembles")
    args = parser.parse_args(argv)
    if args.list:
        list_variants()
        return 0
    if args.record_split:
        import_keras_quietly()
        print(f"wrote {record_test_split(args.record_split, None if args.data == SYNTHETIC else args.data)}")
        return 0
    for flag in ("epochs", "batch_size", "per_class", "extra_per_class"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise FERError(f"--{flag.replace('_', '-')} must be a positive integer, got {getattr(args, flag)}")
    check_options(args, ("time_budget", "epochs", "batch_size"))  # finite, whole, bounded (fer_keras.constraints)
    check_precise_bn(args.precise_bn)
    if args.budget_clock not in ("wall", "cpu"):
        raise FERError(f"--budget-clock must be wall or cpu, got {args.budget_clock!r}")
    if args.stream_cache < 0:
        raise FERError(f"--stream-cache must be 0 or a positive number of batches, got {args.stream_cache}")
    # wrong names, values and folders fail here, before the slow imports
    devices = parse_devices(args.devices)
    variant = get_variant(args.variant)
    labels, ferplus_mode = label_options_of(args)
    check_output_dir(args.output_dir, "--output-dir")
    check_output_dir(args.results_dir, "--results-dir")
    stages = parse_stages(args.stages) if args.stages else None
    if (args.extra_per_class or args.extra_cropped) and not args.extra_train:
        raise FERError("--extra-per-class and --extra-cropped go with --extra-train FOLDER")
    if args.stream:
        check_streamable(variant, args.data, labels, stages, args.extra_train)
    data_path = Path(args.data).expanduser()
    if data_path.is_dir():  # an image folder's layout (not RAF-DB's or FER+'s, which load from their files)
        folder_labels = folder_label_set(data_path, labels)
        if folder_labels.name not in NON_FOLDER_LABEL_SETS:
            folder_layout(data_path, folder_labels)
    extra_train = read_extra_faces(args.extra_train, detect=not args.extra_cropped) if args.extra_train else None
    for teacher in args.teacher:
        if teacher != distill.PACKAGED:
            Run(Path(teacher)).read_config()  # a missing teacher fails before the slow imports
    sized, preset, _ = at_size(variant, args.size)
    if variant.binary and args.teacher:
        raise FERError("--teacher distils multi-class probabilities: use it with a multi-class variant")
    model_sets = [item for item in args.overrides if item.startswith("model.")]
    base_recipe = args.recipe if args.recipe or preset is None else preset_recipe(preset)
    recipe = override(resolve_recipe(base_recipe, sized), [i for i in args.overrides if i not in model_sets])
    import_keras_quietly()  # the builders' signatures need their modules, which import Keras
    from fer_keras.models.registry import model_overrides

    model_kwargs = model_overrides(variant.model, model_sets) or None
    train(args.variant, args.data, args.epochs, args.batch_size, args.mixed_precision, args.seed,
          args.output_dir, args.results_dir, args.fresh, per_class=args.per_class, model_kwargs=model_kwargs,
          recipe=recipe, time_budget=args.time_budget, devices=devices, multi_worker=args.multi_worker,
          labels=labels, ferplus_mode=ferplus_mode, stages=stages, extra_train=extra_train,
          extra_per_class=args.extra_per_class, stream=args.stream, stream_cache=args.stream_cache,
          size=args.size, precise_bn=args.precise_bn, teachers=tuple(args.teacher), budget_clock=args.budget_clock)
    return 0
