"""Is a trained model healthy? Precise BatchNorm, live units, and the end-of-training collapse check.

* :func:`recalibrate_batchnorm` ("precise BN", Wu & Johnson 2021): BatchNorm's moving statistics are
  re-estimated on training batches after the last epoch — they lag the weights of a model stopped
  after a few epochs at a high learning rate.
* :func:`live_units`: the hidden ReLU Dense units that fire on at least one face; a head whose units
  are all dead passes only its bias on, so every face gets the same probabilities.
* :func:`learning_check`: the one line a run prints when it ends near the class prior (issue 21), with
  the likely cause.

Training uses these after fitting; ``fer_keras.evaluation.diagnose`` uses them on any run folder. Backend-agnostic
(``keras`` layers and calls only).
"""

import math
import warnings

import numpy as np

COLLAPSED_SHARE = 0.8
"""A model that gives one class to at least this share of the validation faces did not learn."""
COLLAPSED_MACRO_RECALL = 1.5
"""… nor one whose macro recall is at most this many classes' worth (1.5 / K) …"""
PRIOR_ACCURACY_MARGIN = 0.05
"""… nor one whose accuracy is within 5 points of always answering the most common class."""
BINARY_COLLAPSED_MACRO_RECALL = 0.5 + PRIOR_ACCURACY_MARGIN
"""A one-vs-rest head did not learn when its macro recall (balanced accuracy) is within 5 points of a coin's: the
other criteria do not fit it, as most of its answers are "not this emotion" and should be."""
BATCHNORM_GAIN, BATCHNORM_SPREAD = 0.05, 0.2
"""Re-estimated BatchNorm statistics that add this much validation accuracy, or take this much off
the top class's share, point to statistics that lag the weights."""
PRIOR_LOSS_MARGIN = 0.05
"""A validation loss within 5 % of ln K: the model's output carries no information about the face."""


def batchnorm_layers(model):
    """Every ``BatchNormalization`` layer of ``model``, nested models (a transfer base) included."""
    import keras

    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        found += batchnorm_layers(layer)
    return found


def recalibrate_batchnorm(model, x, batch_size=256):
    """Replace every BatchNorm layer's moving mean and variance by their average over the batches of
    ``x`` (the model's weights unchanged): each batch is run in training mode with the momentum set so
    that the moving value becomes the running mean of the batch statistics. Returns the layer count.
    Dropout is active during these passes, as it was when the statistics were first gathered."""
    layers = batchnorm_layers(model)
    saved = [(layer.momentum, layer.trainable) for layer in layers]
    try:
        for layer in layers:
            layer.trainable = True  # Keras updates the statistics of trainable layers only (a frozen base's too)
        for index, start in enumerate(range(0, len(x), batch_size)):
            for layer in layers:
                layer.momentum = index / (index + 1)  # 0 for the first batch: its statistics replace the old
            with warnings.catch_warnings():  # "the structure of inputs doesn't match": a named input, fed a tensor
                warnings.simplefilter("ignore", UserWarning)
                model(x[start:start + batch_size], training=True)
    finally:
        for layer, (momentum, trainable) in zip(layers, saved):
            layer.momentum, layer.trainable = momentum, trainable
    return len(layers)


def relu_dense_layers(model):
    """The hidden layers whose units can die: ``Dense`` with a ReLU activation, and a ``ReLU`` layer
    that directly follows a Dense or its BatchNorm (``blocks.dense_bn_relu``)."""
    import keras

    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.Dense) and getattr(layer.activation, "__name__", "") == "relu"
            or isinstance(layer, keras.layers.ReLU) and layer.name.startswith("fc")]


def live_units(model, x):
    """``{layer name: (units active on at least one face of x, units)}`` for each hidden ReLU Dense layer."""
    import keras

    hidden = relu_dense_layers(model)
    if not hidden:
        return {}
    outputs = keras.Model(model.inputs, [layer.output for layer in hidden]).predict(x, batch_size=256, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    # a Dense layer on a sequence (tokens × units) counts a unit live if it fires on any face and token
    return {layer.name: (int((out.reshape(-1, out.shape[-1]) > 0).any(axis=0).sum()), int(out.shape[-1]))
            for layer, out in zip(hidden, outputs)}


def prediction_summary(model, x, labels):
    """(accuracy, top-class share) of ``model`` on faces ``x`` with model labels ``labels``."""
    scores = model.predict(x, batch_size=256, verbose=0)
    predicted = np.asarray(scores).argmax(axis=1)
    return float((predicted == labels).mean()), float(np.bincount(predicted).max() / len(predicted))


def confusion_summary(confusion):
    """Top-class share of the predictions, macro recall, accuracy and the most common class's share of a
    confusion matrix (rows: true classes, columns: predicted)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    total, true_counts = confusion.sum(), confusion.sum(axis=1)
    present = true_counts > 0
    return {"top_class_share": float(confusion.sum(axis=0).max() / total),
            "macro_recall": float((np.diag(confusion)[present] / true_counts[present]).mean()),
            "accuracy": float(np.trace(confusion) / total), "majority_share": float(true_counts.max() / total),
            "classes": int(confusion.shape[0])}


def collapse_summary(scores, labels):
    """:func:`confusion_summary` of validation ``scores`` (N × K probabilities) and their mean log-loss."""
    scores = np.asarray(scores, dtype=np.float64)
    classes = scores.shape[1]
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (labels, scores.argmax(axis=1)), 1)
    loss = float(-np.log(np.clip(scores[np.arange(len(labels)), labels], 1e-7, 1)).mean())
    return {**confusion_summary(confusion), "loss": loss}


def learned(summary):
    """Whether ``summary`` (:func:`confusion_summary` / :func:`collapse_summary`) shows a model that left the
    class prior: fewer than 80 % of its answers one class, macro recall above 1.5 / K and accuracy more
    than 5 points above the most common class's share; for two classes (a one-vs-rest head), macro recall
    above ``BINARY_COLLAPSED_MACRO_RECALL``."""
    if summary["classes"] == 2:
        return summary["macro_recall"] > BINARY_COLLAPSED_MACRO_RECALL
    return not (summary["top_class_share"] >= COLLAPSED_SHARE
                or summary["macro_recall"] <= COLLAPSED_MACRO_RECALL / summary["classes"]
                or summary["accuracy"] <= summary["majority_share"] + PRIOR_ACCURACY_MARGIN)


def likely_causes(summary, units=None, batchnorm=None):
    """The causes a collapsed model's numbers point to, most specific first: dead ReLU units, BatchNorm
    statistics that lag the weights (``batchnorm``: (accuracy, share) before and after re-estimating),
    a loss still at ln K."""
    causes = []
    dead = [name for name, (live, _) in (units or {}).items() if live == 0]
    if dead:
        causes.append(f"dead ReLU layer {', '.join(dead)} (every face gets its bias alone)")
    if batchnorm and (batchnorm[1][0] - batchnorm[0][0] >= BATCHNORM_GAIN
                      or batchnorm[0][1] - batchnorm[1][1] >= BATCHNORM_SPREAD):
        causes.append("BatchNorm's moving statistics lag the weights (try --precise-bn on, a lower learning "
                      "rate or more epochs)")
    if summary["loss"] >= (1 - PRIOR_LOSS_MARGIN) * math.log(summary["classes"]):
        causes.append(f"validation loss {summary['loss']:.2f} ≈ ln {summary['classes']}: nothing learned yet "
                      "(too few epochs, or a learning rate too high to start)")
    return causes or ["the model has not left the class prior yet (more epochs, or the family's --size cpu)"]


def learning_check(summary, units=None, batchnorm=None):
    """``None`` for a model that learned, else the one line that says it did not, and why."""
    if learned(summary):
        return None
    return (f"DID NOT LEARN: validation accuracy {summary['accuracy']:.1%} (most common class "
            f"{summary['majority_share']:.1%}), top class {summary['top_class_share']:.0%} of the predictions, macro "
            f"recall {summary['macro_recall']:.2f} (prior {1 / summary['classes']:.2f}) — likely cause: "
            + "; ".join(likely_causes(summary, units, batchnorm)))


PRECISE_BN_MODES = ("auto", "on", "off")
PRECISE_BN_FACES = 8192
"""Training faces (un-augmented) whose batches re-estimate BatchNorm's statistics after the last epoch."""


def check_precise_bn(mode):
    """``--precise-bn``'s value, checked before any work."""
    from fer_keras.errors import FERError

    if mode not in PRECISE_BN_MODES:
        raise FERError(f"--precise-bn must be one of {', '.join(PRECISE_BN_MODES)}, got {mode!r}")
    return mode


def check_trained_run(run, prepared, precise_bn="auto", seed=0, binary=False):
    """After the last epoch, on the run's best checkpoint and its validation split (PublicTest under the
    usage split; never the test split): precise BatchNorm (``precise_bn`` "on" keeps the re-estimated
    statistics, "auto" keeps them only if validation accuracy rises, "off" skips), then the collapse check.
    ``best.keras`` is rewritten (atomically) only when the statistics are kept. Returns the fields for
    ``metrics.json``: ``precise_bn`` (accuracies before/after and whether kept), ``validation`` (top-class
    share, macro recall, loss), ``learned`` and ``learning_check`` (the line a collapsed run prints)."""
    from fer_keras.files import atomic_write
    from fer_keras.data.pre_proc_data import labels_of
    from fer_keras.runs.model_files import load_model

    model = load_model(run.best)
    x_val = prepared.x_val
    labels = labels_of(prepared.y_val)
    if binary or len(x_val) == 0:
        return {}
    scores = model.predict(x_val, batch_size=256, verbose=0)
    record, batchnorm = None, None
    if precise_bn != "off" and batchnorm_layers(model):
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(prepared.x_train), min(PRECISE_BN_FACES, len(prepared.x_train)),
                                  replace=False))
        before = (float((scores.argmax(1) == labels).mean()), float(np.bincount(scores.argmax(1)).max() / len(labels)))
        recalibrate_batchnorm(model, np.asarray(prepared.x_train[pick]))
        recalibrated = model.predict(x_val, batch_size=256, verbose=0)
        after = (float((recalibrated.argmax(1) == labels).mean()),
                 float(np.bincount(recalibrated.argmax(1)).max() / len(labels)))
        kept = precise_bn == "on" or after[0] > before[0]
        record = {"mode": precise_bn, "faces": len(pick), "val_accuracy_before": round(before[0], 4),
                  "val_accuracy_after": round(after[0], 4), "kept": kept}
        batchnorm = (before, after)
        print(f"precise BatchNorm ({precise_bn}): validation accuracy {before[0]:.2%} → {after[0]:.2%}, "
              + ("kept" if kept else "not kept (the stored statistics score higher)"))
        if kept:
            scores = recalibrated
            atomic_write(run.best, lambda tmp: model.save(tmp))
    summary = collapse_summary(scores, labels)
    line = None if learned(summary) else learning_check(summary, live_units(model, x_val[:2048]), batchnorm)
    return {"precise_bn": record, "validation": {k: round(v, 4) for k, v in summary.items()},
            "learned": line is None, "learning_check": line}
