"""Train a named variant: ``python -m fer_keras.train --variant NAME``.

data → clean → split → balance (training split only) → build → compile → fit (callback suite)
→ evaluate the best checkpoint on the test split → ``config.json`` + ``metrics.json``.
"""

import argparse
import hashlib
import json
import platform
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras import EMOTIONS, __version__
from fer_keras.cli import import_keras_quietly, user_errors_exit
from fer_keras.data import SYNTHETIC, load
from fer_keras.errors import FERError
from fer_keras.recipes import build_optimizer, override, resolve_recipe
from fer_keras.variants import DEFAULT_VARIANT, VARIANTS, get_variant


def clean(data, steps):
    """Apply the variant's cleaning steps (functions of ``fer_keras.data.eda``) in order."""
    from fer_keras.data import eda

    for step in steps:
        data = getattr(eda, step)(data)
    return data


def prepare(variant, data, seed, per_class=None):
    """The variant's model-ready arrays (see ``pre_proc_data``).

    ``per_class`` overrides the balancing target: images per class for "augment" (Białek's 8000)
    and positives for one-vs-rest (6000, with ``per_class // 6`` drawn from each other class).
    """
    from fer_keras.pre_proc_data import pre_proc_binary, pre_proc_data

    data = clean(data, variant.cleaning)
    if variant.binary:
        n_positive = per_class or 6000
        return data, pre_proc_binary(data, variant.binary_emotion, variant.split, n_positive=n_positive,
                                     n_per_negative=n_positive // 6, seed=seed)
    return data, pre_proc_data(data, sampling=variant.sampling, protocol=variant.protocol,
                               split_method=variant.split, n_per_class=per_class or 8000, seed=seed)


def demo_per_class(data):
    """On the small synthetic set, balance to its largest training class instead of 8000."""
    return int(np.bincount(data.labels[data.usage == "Training"]).max())


def data_fingerprint(data):
    """A short content hash of images and labels: two runs on the same data share it."""
    digest = hashlib.sha256(data.images.tobytes())
    digest.update(data.labels.astype(np.int64).tobytes())
    return digest.hexdigest()[:16]


def gpu_available():
    """Whether the active Keras backend sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def set_precision(mixed):
    """``mixed_float16`` on a GPU when asked; float32 otherwise (with the reason printed)."""
    import keras

    if mixed and not gpu_available():
        print("mixed precision: no GPU visible to the backend — float16 would be slower on CPU; using float32")
        mixed = False
    policy = "mixed_float16" if mixed else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


def find_resumable(output_dir, resume_key):
    """The newest unfinished run (``backup/`` still present) made with the same settings."""
    for run_dir in sorted(Path(output_dir).glob("*/"), reverse=True):
        config = run_dir / "config.json"
        if (run_dir / "backup").is_dir() and config.exists():
            try:
                if json.loads(config.read_text()).get("resume_key") == resume_key:
                    return run_dir
            except (json.JSONDecodeError, OSError):
                continue
    return None


def versions():
    import keras

    found = {"python": platform.python_version(), "fer_keras": __version__, "keras": keras.__version__,
             "numpy": np.__version__, "backend": keras.backend.backend()}
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            found[module] = getattr(sys.modules[module], "__version__", "?")
    return found


def evaluate_checkpoint(model, run_dir, prepared):
    """Test metrics of the best checkpoint (``best.keras``, loaded in safe mode)."""
    import keras
    from sklearn.metrics import accuracy_score, f1_score

    best = run_dir / "best.keras"
    if best.exists():
        model = keras.saving.load_model(best, safe_mode=True)
    scores = model.predict(prepared.x_test, batch_size=256, verbose=0)
    predicted = (scores[:, 0] > 0.5).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)
    truth = prepared.labels_test
    return {
        "test_accuracy": float(accuracy_score(truth, predicted)),
        "test_macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "n_test": int(len(truth)),
        "checkpoint": str(best) if best.exists() else None,
    }


def best_epoch(history_csv, monitor):
    import pandas as pd

    history = pd.read_csv(history_csv)
    if monitor not in history:
        return None, len(history)
    pick = history[monitor].idxmin() if monitor.endswith("loss") else history[monitor].idxmax()
    return int(history.loc[pick, "epoch"]) + 1, len(history)


def train(variant_name=DEFAULT_VARIANT, data=SYNTHETIC, epochs=None, batch_size=None, mixed_precision=False,
          seed=0, output_dir="callbacks", results_dir="results", fresh=False, verbose=None, per_class=None,
          model_kwargs=None, recipe=None, time_budget=None):
    """Train ``variant_name`` and return the summary dict written to ``metrics.json``.

    ``per_class`` overrides the balancing target (see ``prepare``); ``model_kwargs`` go to the
    model's builder (e.g. ``{"base_size": 112}`` for a faster transfer model). ``recipe`` is a
    name in ``fer_keras.recipes.RECIPES`` or a ``Recipe`` (default: the variant's own).
    ``time_budget`` (minutes) plans the run to end at that budget: ``epochs`` is then only a cap.
    """
    import keras

    from fer_keras.augment import AugmentedBatches, augmenter
    from fer_keras.callbacks import callback_suite
    from fer_keras.models import build_model, compile_model
    from fer_keras.schedules import RunPlan, ScheduledLearningRate, TimeBudget, check_budget_fits

    variant = get_variant(variant_name)
    recipe = resolve_recipe(recipe, variant)
    if time_budget is not None and not time_budget > 0:
        raise FERError(f"--time-budget must be a positive number of minutes, got {time_budget}")
    verbose = verbose if verbose is not None else (1 if sys.stdout.isatty() else 2)  # bars on a terminal only
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    dataset = load(data)
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
    recipe = replace(recipe, batch_size=batch_size)
    policy = set_precision(mixed_precision)
    cleaned, prepared = prepare(variant, dataset, seed, per_class)
    if prepared.leaky:
        print("WARNING: leaky protocol — test images were over-sampled into training; "
              "numbers from this run are for comparison only")

    resume_key = hashlib.sha256(json.dumps(
        [variant.name, data_fingerprint(dataset), seed, epochs, batch_size, policy, per_class,
         model_kwargs] + ([recipe.to_dict(), time_budget]
                          if recipe != resolve_recipe("paper", variant) or time_budget else [])
    ).encode()).hexdigest()[:16]

    def compiled_model():
        model = build_model(variant.model, binary=variant.binary, num_classes=1 if variant.binary else len(EMOTIONS),
                            **(model_kwargs or {}))
        return compile_model(model, optimizer=build_optimizer(recipe), binary=variant.binary,
                             label_smoothing=recipe.label_smoothing)

    fit_data = {"x": prepared.x_train, "y": prepared.y_train, "batch_size": batch_size,
                "class_weight": prepared.class_weight}
    augment = augmenter(recipe.augmentation, seed, recipe.crop_padding, recipe.erase_probability)
    if augment is not None:
        weights = (None if prepared.class_weight is None
                   else np.array([prepared.class_weight[k] for k in prepared.labels_train], dtype=np.float32))
        fit_data = {"x": AugmentedBatches(prepared.x_train, prepared.y_train, batch_size, seed, weights,
                                          augment=augment)}
    if time_budget is not None:
        check_budget_fits(compiled_model(), fit_data, time_budget)  # a throwaway model: too small fails here
        keras.utils.set_random_seed(seed)
    model = compiled_model()

    run_dir = None if fresh else find_resumable(output_dir, resume_key)
    if run_dir is not None:
        print(f"resuming the interrupted run in {run_dir}")
    else:
        run_dir = Path(output_dir) / f"{variant.name}-{datetime.now():%Y%m%d-%H%M%S}"
        run_dir.mkdir(parents=True)
    config = {
        "variant": variant.to_dict(), "resume_key": resume_key, "command": " ".join(sys.argv),
        "data": {"source": dataset.source, "fingerprint": data_fingerprint(dataset), "rows": len(dataset),
                 "rows_after_cleaning": len(cleaned), "cleaning_notes": list(cleaned.notes)},
        "prepared": {"train": len(prepared.x_train), "val": len(prepared.x_val), "test": len(prepared.x_test),
                     "sampling": prepared.sampling, "protocol": prepared.protocol, "leaky": prepared.leaky,
                     "class_weight": prepared.class_weight, "notes": list(prepared.notes)},
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "precision_policy": policy,
        "per_class": per_class, "model_kwargs": model_kwargs or {}, "recipe": recipe.to_dict(),
        "time_budget_minutes": time_budget,
        "versions": versions(), "created": datetime.now().isoformat(timespec="seconds"),
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))

    plan = RunPlan(epochs)
    extra = [ScheduledLearningRate(recipe, plan)] if recipe.scheduled else []
    if time_budget is not None:
        extra.append(TimeBudget(time_budget, plan, run_dir / "budget.json", max_epochs=epochs))
    callbacks = callback_suite(run_dir, variant.callbacks, plateau=not recipe.scheduled,
                               early_stopping=recipe.early_stopping, extra=extra)
    train_start, train_cpu_start = time.perf_counter(), time.process_time()
    model.fit(**fit_data, validation_data=(prepared.x_val, prepared.y_val), epochs=epochs,
              callbacks=callbacks, verbose=verbose)
    train_minutes = (time.perf_counter() - train_start) / 60
    train_cpu_minutes = (time.process_time() - train_cpu_start) / 60

    metrics = evaluate_checkpoint(model, run_dir, prepared)
    best, ran = best_epoch(run_dir / "history.csv", variant.callbacks.checkpoint_monitor)
    metrics.update(variant=variant.name, run_dir=str(run_dir), best_epoch=best, epochs_run=ran,
                   protocol=prepared.protocol, leaky=prepared.leaky, data=dataset.source,
                   seconds=round(time.perf_counter() - start, 1), reference=variant.reference,
                   recipe=recipe.name, planned_epochs=plan.epochs, train_minutes=round(train_minutes, 2),
                   train_cpu_minutes=round(train_cpu_minutes, 2),
                   time_budget_minutes=time_budget)
    out = Path(results_dir) / run_dir.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    minutes, seconds = divmod(int(metrics["seconds"]), 60)
    print(f"\n{variant.name}: test accuracy {metrics['test_accuracy']:.3f} (macro-F1 {metrics['test_macro_f1']:.3f})"
          f"{' [LEAKY protocol]' if prepared.leaky else ''} — best epoch {best}/{ran} — {minutes}m{seconds:02d}s")
    print(f"wrote {run_dir}/ (best.keras, history.csv, logs/, config.json) and {out / 'metrics.json'}")
    return metrics


BUDGET_EPOCH_CAP = 1000
"""With ``--time-budget`` and no ``--epochs``, the budget alone decides when to stop."""


def list_variants():
    width = max(map(len, VARIANTS))
    for name, variant in VARIANTS.items():
        print(f"{name:<{width}}  {variant.description}  [{variant.reference}]")


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
        "  python -m fer_keras.train --variant fernet_s --data fer2013.csv.gz --time-budget 100   # ends in 100 min\n"
        "  python -m fer_keras.train --variant baseline_cnn --recipe modern --time-budget 30\n"
        "  tensorboard --logdir callbacks                                    # watch runs\n"
        "Re-running an interrupted command resumes it from its last completed epoch.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default=DEFAULT_VARIANT, help="experiment name (default: %(default)s)")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument("--data", default=SYNTHETIC,
                        help="Kaggle CSV (.csv/.gz/.xz/.zip), image folder, or 'synthetic' (default)")
    parser.add_argument("--epochs", type=int, help="override the variant's epochs")
    parser.add_argument("--batch-size", type=int, help="override the variant's batch size")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="mixed_float16 on a GPU (outputs stay float32); ignored with a note on CPU")
    parser.add_argument("--recipe", metavar="NAME",
                        help="training recipe: 'paper' (the variant's published one) or 'modern' (SGD-Nesterov, "
                        "warm-up + cosine to the planned end, label smoothing, crop + flip); default: the variant's")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="change one field of the recipe, e.g. --set optimizer=adamw --set learning_rate=0.01 "
                        "(fields: see fer_keras.recipes.Recipe); repeatable")
    parser.add_argument("--time-budget", type=float, metavar="MINUTES",
                        help="plan the run in minutes: epochs are re-planned from the measured epoch time and the "
                        "schedule ends at the budget (--epochs becomes a cap)")
    parser.add_argument("--per-class", type=int,
                        help="balancing target: images per class for 'augment' variants (default 8000), "
                        "positives for one-vs-rest (default 6000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--output-dir", default="callbacks", help="run folders go here (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="metrics go here (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="start a new run even if an interrupted one matches")
    args = parser.parse_args(argv)
    if args.list:
        list_variants()
        return 0
    for flag in ("epochs", "batch_size", "per_class"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            raise FERError(f"--{flag.replace('_', '-')} must be a positive integer, got {getattr(args, flag)}")
    if args.time_budget is not None and not args.time_budget > 0:
        raise FERError(f"--time-budget must be a positive number of minutes, got {args.time_budget:g}")
    # wrong names and values fail here, before the slow imports
    recipe = override(resolve_recipe(args.recipe, get_variant(args.variant)), args.overrides)
    import_keras_quietly()
    train(args.variant, args.data, args.epochs, args.batch_size, args.mixed_precision, args.seed,
          args.output_dir, args.results_dir, args.fresh, per_class=args.per_class, recipe=recipe,
          time_budget=args.time_budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
