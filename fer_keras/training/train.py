"""Train a named variant: ``python -m fer_keras.train --variant NAME``.

data → clean → split → balance (training split only) → build → compile → fit (callback suite)
→ evaluate the best checkpoint on the test split → ``config.json`` + ``metrics.json``.

With ``--stream`` an image folder is indexed once and read from disk batch by batch
(``fer_keras.data.stream``): same cleaning, split and cross-split dedupe, no pixels held but the
test split's and a bounded LRU of validation batches.
"""

import argparse
import os
from dataclasses import replace
from pathlib import Path

from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.data import SYNTHETIC
from fer_keras.data.labelsets import add_label_options, label_options_of
from fer_keras.errors import FERError
from fer_keras.models.presets import CPU_PRESETS, SIZES
from fer_keras.runs.folder import Run
from fer_keras.training.distribute import parse_devices
from fer_keras.training.health import PRECISE_BN_MODES
from fer_keras.training.options import STREAM_CACHE_BATCHES, TrainOptions
from fer_keras.training.preparation import prepare, prepare_training
from fer_keras.training.record import (open_run, read_training_record, record_splits, recorded_test_split,
                                       recorded_val_split, report, report_held_out, resume_key, run_config,
                                       training_record, warn_missing_snapshots, write_training_record)
from fer_keras.training.stages import parse_stages
from fer_keras.training.variants import DEFAULT_VARIANT, VARIANTS, Variant


def train(options=DEFAULT_VARIANT, data=SYNTHETIC, **settings):
    """Train a run and return the summary dict written to ``metrics.json``.

    ``options`` is a :class:`~fer_keras.training.options.TrainOptions`, or a variant name resolved with
    ``data`` and ``settings`` by ``TrainOptions.resolve`` (``fer_keras.training.options``)
    (``epochs``, ``batch_size``, ``seed``, ``recipe``, ``stages``, ``time_budget``, ``devices``,
    ``stream``, ``teachers``, ``output_dir``, … as the command line's options). The steps: prepare the
    data, build the model, open the run folder (resumed when interrupted) and record its config and
    splits, fit, check its health, record the training, evaluate the best checkpoint on the test split
    (with ``hold_out_test``: not; the training record, validation numbers included, is returned instead).
    """
    from fer_keras.evaluation.evaluate import evaluate_run
    from fer_keras.training.fitting import Fit

    if not isinstance(options, TrainOptions):
        options = TrainOptions.resolve(options, data, **settings)
    data = prepare_training(options)  # load, clean, split, balance (and distil)
    fit = Fit(options, data)  # the compiled model, its batches, the first plan
    key = resume_key(options, data)
    run, before = open_run(options, key, fit.batches, before_creating=fit.plan_snapshots)
    run_config(options, data, fit, key, before).write(run.config)
    record_splits(run, data.prepared, data.dataset)
    plan, callbacks = fit.callbacks(run)
    if run.trained.is_file():  # trained, killed before its evaluation was written: evaluate it, do not retrain
        training = health = read_training_record(run, evaluating=not options.hold_out_test)
    else:
        minutes = fit.fit_stages(run, callbacks)
        health = fit.check_health(run)  # precise BatchNorm, the collapse check
        training = training_record(options, data, fit, run, plan, minutes, health)
        write_training_record(run, training)
    warn_missing_snapshots(fit, training)
    if options.hold_out_test:
        run.finish()
        report_held_out(options, training, run, data.leaky)
        return training
    metrics = evaluate_run(run.path, results_dir=options.results_dir, n_calls=0, extra=training)
    run.finish()
    report(options, metrics, health, run, data.leaky)
    return metrics


def record_test_split(run_dir, data=None):
    """Write ``test_split.npz`` and ``val_split.npz`` for a run made before runs recorded them (whichever
    is missing), so that it can join ensembles and be chosen on without preparing its data again: the
    run's data is split again as its ``config.json`` says (its variant's cleaning and split, its seed)
    from ``data`` or the recorded source, checked by fingerprint. Honest, in-memory runs only: a LEAKY
    run's splits were drawn after resampling. Returns the files written."""
    from fer_keras.evaluation.evaluate import run_data

    run = Run(Path(run_dir))
    config = run.read_config()
    missing = [path for path in (run.test_split, run.val_split) if not path.is_file()]
    if not missing:
        raise FERError(f"{run.val_split} exists already, as does {run.test_split.name}; nothing to record")
    if not os.access(run.path, os.W_OK):
        raise FERError(f"{run.path} is read-only: cannot write its {missing[0].name}")
    variant, recorded = Variant.from_dict(config.variant), config.prepared
    if config.leaky:
        raise FERError(f"{run.path} is a LEAKY run: its test split was drawn after resampling and cannot be made "
                       "again; evaluate its model with --model FILE --data PATH instead")
    if config.data.streamed:
        raise FERError(f"{run.path} streamed its data and recorded its test split when it trained")
    dataset = run_data(config, data, run.name)
    # balancing touches the training split only: skip it (the test split is the same, in a fraction of the time)
    light = variant if variant.binary else replace(variant, sampling="none")
    _, prepared = prepare(light, dataset, config.seed)
    if recorded.test not in (None, len(prepared.x_test)):
        raise FERError(f"splitting {run.path}'s data again gives {len(prepared.x_test)} test images, its config "
                       f"says {recorded.test}: the data layer changed since the run; its split is not recorded")
    if run.test_split in missing:
        run.write_test_split(**recorded_test_split(prepared, dataset))
    if run.val_split in missing:
        run.write_val_split(**recorded_val_split(prepared))
    return missing


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
    parser = ArgumentParser(
        prog="python -m fer_keras.train",
        description="Train a named experiment (model + cleaning + split + balancing + hyper-parameters) "
        "and evaluate its best checkpoint on the test split.",
        epilog="examples:\n"
        "  python -m fer_keras.train --list\n"
        "  python -m fer_keras.train --variant baseline_cnn                 # synthetic demo data, 2-5 min\n"
        "  python -m fer_keras.train --variant five_layer_balanced_filtered --data fer2013.csv.gz\n"
        "  python -m fer_keras.train --variant fernet_s --data fer2013.csv.gz --time-budget 100  # epochs fit 100 min\n"
        "  python -m fer_keras.train --variant baseline_cnn --recipe modern --time-budget 30\n"
        "  python -m fer_keras.train --variant fernet_s --data fer2013.csv.gz --init packaged --hold-out-test"
        "  # a candidate: PublicTest only\n"
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
    parser.add_argument("--init", metavar="RUN",
                        help="start from the weights of this honest run folder of the same data, split and "
                        "architecture, or 'packaged' (the shipped FERNet-S; with --variant fernet_s): fine-tune "
                        "instead of training from scratch (the optimizer and schedule start afresh)")
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
    parser.add_argument("--hold-out-test", action="store_true",
                        help="do not evaluate on the test split (FER2013's PrivateTest) when training ends: report the "
                        "validation split (PublicTest) only, for candidates still to be chosen between (soup "
                        "ingredients, ensemble members, settings); score the chosen one once, later, with "
                        "python -m fer_keras.evaluate --run RUN")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--output-dir", default="callbacks", help="run folders go here (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="metrics go here (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="start a new run even if an interrupted one matches")
    parser.add_argument("--record-split", metavar="RUN",
                        help="instead of training: write the test_split.npz and val_split.npz of a run folder made "
                        "before runs recorded them (its data prepared again from its config.json), so it can join "
                        "ensembles and be chosen on without preparing its data again")
    args = parser.parse_args(argv)
    if args.list:
        list_variants()
        return 0
    if args.record_split:
        import_keras_quietly()
        for path in record_test_split(args.record_split, None if args.data == SYNTHETIC else args.data):
            print(f"wrote {path}")
        return 0
    labels, ferplus_mode = label_options_of(args)
    options = TrainOptions.resolve(  # every check, once, before the slow imports (fer_keras.training.options)
        args.variant, args.data, recipe=args.recipe, overrides=args.overrides,
        stages=parse_stages(args.stages) if args.stages else None,
        size=args.size, extra_train=args.extra_train, extra_cropped=args.extra_cropped, teachers=args.teacher,
        init=args.init, epochs=args.epochs, batch_size=args.batch_size, mixed_precision=args.mixed_precision,
        seed=args.seed,
        output_dir=args.output_dir, results_dir=args.results_dir, fresh=args.fresh, per_class=args.per_class,
        time_budget=args.time_budget, budget_clock=args.budget_clock, devices=parse_devices(args.devices),
        multi_worker=args.multi_worker, labels=labels, ferplus_mode=ferplus_mode,
        extra_per_class=args.extra_per_class, stream=args.stream, stream_cache=args.stream_cache,
        precise_bn=args.precise_bn, hold_out_test=args.hold_out_test)
    import_keras_quietly()
    train(options)
    return 0
