"""Why does a trained model predict one class? ``python -m fer_keras.diagnose RUN [RUN ...]``.

For each run folder, on a sample of its validation split (FER2013's PublicTest under the usage split,
a held-out part of Training otherwise; never the test split):

* **top-class share**: the share of faces given the most predicted class (a collapsed model: ≥ 0.9);
* **live units** of each hidden ReLU ``Dense`` layer, active (> 0) on at least one face: a head whose
  units are all dead passes only its bias on, so every face gets the same probabilities and the
  loss stays at ln K — no gradient reaches the layers below;
* **accuracy with BatchNorm's stored statistics, and after re-estimating them** on training faces
  (:func:`recalibrate_batchnorm`, "precise BN"): a large gain means the moving averages lagged
  weights that still moved fast — a model stopped after an epoch or two — not a model that learned
  nothing.

Backend-agnostic (``keras`` layers and calls only); the model file is never changed.
"""

from pathlib import Path

import numpy as np

from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.data.container import to_model_input
from fer_keras.data.eda import clean
from fer_keras.data.hashing import occurs_in
from fer_keras.data.splits import split
from fer_keras.errors import FERError
from fer_keras.evaluation.evaluate import load_keras_model, run_data, variant_from_config
from fer_keras.runs.folder import Run, check_output_file, write_json
from fer_keras.training.health import (BATCHNORM_GAIN, BATCHNORM_SPREAD, live_units, prediction_summary,
                                       recalibrate_batchnorm)

COLLAPSED_SHARE = 0.9
"""A model that gives one class to at least this share of the faces is called collapsed."""


def diagnose_run(run_dir, n_faces=2048, n_train=4096, seed=0, data=None):
    """The diagnosis of one run folder (see the module's docstring) as a dict."""
    run = Run(Path(run_dir))
    config = run.read_config()
    variant = variant_from_config(config)
    if variant.binary:
        raise FERError(f"{run.path} is a one-vs-rest run; diagnose multi-class runs")
    if variant.protocol != "honest" or config.data.streamed:
        raise FERError(f"{run.path} is a LEAKY or streamed run, whose validation split cannot be made again here")
    val_images, val_labels, train_images = split_faces(run, config, variant, run_data(config, data, run.name))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(val_images), min(n_faces, len(val_images)), replace=False)
    x, labels = to_model_input(val_images[pick]), val_labels[pick]
    model = load_keras_model(run.best)
    stored, share = prediction_summary(model, x, labels)
    found = {"run": run.name, "faces": len(x), "accuracy": stored, "top_class_share": share,
             "collapsed": share >= COLLAPSED_SHARE, "live_units": live_units(model, x)}
    train_x = to_model_input(train_images[rng.choice(len(train_images), min(n_train, len(train_images)),
                                                     replace=False)])
    found["batchnorm_layers"] = recalibrate_batchnorm(model, train_x)
    if found["batchnorm_layers"]:
        found["accuracy_recalibrated"], found["top_class_share_recalibrated"] = prediction_summary(model, x, labels)
    return found


def split_faces(run, config, variant, dataset):
    """(validation faces, their labels, training faces) of a run: its recorded validation split, and for
    re-estimating BatchNorm the source's training rows that are in neither recorded split (uncleaned:
    the statistics need faces, not the exact training set). A run made before runs recorded its
    validation split has both made again as training made them (cleaning, then its split)."""
    recorded = run.read_val_split()
    if recorded is None:
        parts = split(clean(dataset, variant.cleaning), variant.split, seed=config.seed)
        return parts.val.images, parts.val.labels, parts.train.images
    held_out = np.concatenate([recorded["images"], run.read_test_split()["images"]])
    training = dataset.usage == "Training"
    pool = dataset.images[training] if training.any() else dataset.images
    return recorded["images"], recorded["labels"], pool[~occurs_in(pool, held_out)]


def describe(found):
    """One line a person reads: the numbers and what they point to."""
    units = ", ".join(f"{name} {live}/{total} live" for name, (live, total) in found["live_units"].items())
    line = (f"{found['run']}: validation accuracy {found['accuracy']:.1%} on {found['faces']} faces, top class "
            f"{found['top_class_share']:.0%}" + (f"; {units}" if units else ""))
    if found["batchnorm_layers"]:
        line += (f"; BatchNorm statistics re-estimated: {found['accuracy_recalibrated']:.1%}, top class "
                 f"{found['top_class_share_recalibrated']:.0%}")
    causes = []
    if any(live == 0 for live, _ in found["live_units"].values()):
        causes.append("a dead ReLU layer: every face gets its bias alone")
    if found["batchnorm_layers"] and (found["accuracy_recalibrated"] - found["accuracy"] >= BATCHNORM_GAIN
                                      or found["top_class_share"] - found["top_class_share_recalibrated"]
                                      >= BATCHNORM_SPREAD):
        causes.append("BatchNorm's moving statistics lag the weights (train longer, or at a lower learning rate)")
    if found["collapsed"] and not causes:
        causes.append("no dead layer and no BatchNorm lag: the model has not left the class prior yet")
    return line + (f" → {'; '.join(causes)}" if causes else "")


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.diagnose",
        description="Why a trained model predicts (nearly) one class: its top-class share, the live units of its "
        "ReLU Dense layers, and its validation accuracy before and after re-estimating BatchNorm's statistics "
        "on training faces. Reads each run's data (checked by fingerprint); never touches the test split or the "
        "model file.",
        epilog="example: python -m fer_keras.diagnose callbacks/resnet50v2_trinh-20261130-001748 --json diag.json")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="training run folders (callbacks/<variant>-<time>/)")
    parser.add_argument("--data", help="the data the runs were trained on, if not at their recorded path")
    parser.add_argument("--faces", type=int, default=2048, help="validation faces scored (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the diagnoses to FILE")
    args = parser.parse_args(argv)
    if args.faces < 1:
        raise FERError(f"--faces must be a positive integer, got {args.faces}")
    for run_dir in args.runs:
        Run(Path(run_dir)).read_config()  # a wrong folder fails before the Keras import
    if args.json:
        check_output_file(args.json, "--json")
    import_keras_quietly()
    found = []
    for run_dir in args.runs:
        found.append(diagnose_run(run_dir, n_faces=args.faces, data=args.data))
        print(describe(found[-1]), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(args.json), found)
        print(f"wrote {args.json}")
    return 0
