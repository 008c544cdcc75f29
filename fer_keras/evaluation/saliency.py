"""Where a model looks: ``python -m fer_keras.saliency --run RUN_DIR --n 16 [--method gradient|gradcam|occlusion]``.

* ``gradient`` — vanilla gradient saliency (Simonyan et al. 2014): |∂ class score / ∂ pixel|;
* ``gradcam`` — Grad-CAM (Selvaraju et al. 2017): a convolutional map weighted by the spatial mean
  of its gradients, ReLU, upsampled to 48×48;
* ``occlusion`` — occlusion sensitivity (Zeiler & Fergus 2014): slide a grey patch over the face and
  record how much the class probability drops; forward passes only, so any Keras backend.

The class score is the output layer's pre-activation (the logit) when the model ends in a softmax
or sigmoid Dense layer, as these models do, and the log-probability otherwise; a binary model's
"rest" class scores −logit. The gradient methods use ``tf.GradientTape`` and need the TensorFlow
backend. The CLI explains each image's true emotion by default and writes a grid PNG (face, heat
map overlay, true and predicted emotion) to ``results/<run>/saliency_<method>.png``.
"""

from pathlib import Path

import numpy as np

from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.constraints import check_options
from fer_keras.errors import FERError
from fer_keras.files import replace_folder
from fer_keras.runs.folder import Run, check_output_dir

SALIENCY_METHODS = ("gradient", "gradcam", "occlusion")
_NOT_FEATURE_MAPS = ("Pooling", "Dropout", "InputLayer")


# --------------------------------------------------------------------------- class scores


def _require_tensorflow(method):
    import keras

    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise FERError(f"{method} saliency takes gradients with tf.GradientTape and needs the TensorFlow backend "
                       f"(this is KERAS_BACKEND={backend}); --method occlusion works on any backend")


def tensorflow_gradient(forward, x):
    """Gradients through ``tf.GradientTape`` (TensorFlow backend only): ``forward(x)`` returns
    ``(wrt, score)`` — a tensor computed from ``x`` (or ``x`` itself) and per-image scores N — and
    this returns ``(wrt, ∂ sum(score) / ∂ wrt)``. Images are independent in inference mode, so each
    image's gradient is that of its own score."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        wrt, score = forward(x)
        total = tf.reduce_sum(score)
    return wrt, tape.gradient(total, wrt)


def _class_score(model):
    """(tensor the score is computed from, score(tensor, classes) → N) for a Keras model."""
    import keras
    from keras import ops

    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if isinstance(last, keras.layers.Dense) and activation in ("softmax", "sigmoid"):
        def logit(features, classes):
            logits = ops.matmul(ops.cast(features, "float32"), ops.cast(last.kernel, "float32"))
            logits = logits + ops.cast(last.bias, "float32") if last.use_bias else logits
            if logits.shape[-1] == 1:
                return ops.where(classes == 1, logits[:, 0], -logits[:, 0])
            return ops.take_along_axis(logits, classes[:, None], axis=1)[:, 0]

        return last.input, logit

    def log_probability(probabilities, classes):
        p = ops.cast(probabilities, "float32")
        if p.shape[-1] == 1:
            p = ops.concatenate([1 - p, p], axis=1)
        return ops.log(ops.take_along_axis(p, classes[:, None], axis=1)[:, 0] + 1e-7)

    return model.outputs[0], log_probability


def class_probability(scores, classes):
    """The probability of ``classes`` (N) from outputs N×K, or N×1 sigmoid (class 1 = the emotion)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape[1] == 1:
        return np.where(np.asarray(classes) == 1, scores[:, 0], 1 - scores[:, 0])
    return scores[np.arange(len(scores)), classes]


def _batches(n, size):
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


# --------------------------------------------------------------------------- the three methods


def gradient_saliency(model, images, classes, batch_size=64):
    """|∂ score / ∂ pixel| (max over channels): N×H×W for float32 ``images`` N×H×W×C. TensorFlow only."""
    import keras

    _require_tensorflow("gradient")
    features, score = _class_score(model)
    to_features = keras.Model(model.inputs, features)
    classes = np.asarray(classes, dtype=np.int32)
    out = []
    for part in _batches(len(images), batch_size):
        def forward(x, part=part):
            return x, score(to_features(x, training=False), classes[part])

        _, grads = tensorflow_gradient(forward, images[part])
        out.append(np.abs(grads.numpy()).max(axis=-1))
    return np.concatenate(out) if out else np.zeros(np.shape(images)[:3], np.float32)


def last_feature_map_layer(model):
    """The last layer whose output is a spatial map (N×H×W×C with H, W > 1), pooling and dropout
    layers skipped: the Grad-CAM layer by default (e.g. ``block5_relu`` of the CNN-LSTM)."""
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if (shape and len(shape) == 4 and (shape[1] or 0) > 1 and (shape[2] or 0) > 1
                and not any(kind in type(layer).__name__ for kind in _NOT_FEATURE_MAPS)):
            return layer
    raise FERError(f"model {model.name!r} has no convolutional feature map for Grad-CAM; "
                   "use --method gradient or occlusion")


def grad_cam(model, images, classes, layer=None, batch_size=64):
    """Grad-CAM maps N×H×W (input size, ≥ 0) from the feature map of ``layer`` (a name; default:
    :func:`last_feature_map_layer`). TensorFlow only."""
    import keras
    import tensorflow as tf

    _require_tensorflow("gradcam")
    try:
        layer = model.get_layer(layer) if layer else last_feature_map_layer(model)
    except ValueError:
        raise FERError(f"model {model.name!r} has no layer {layer!r}") from None
    features, score = _class_score(model)
    both = keras.Model(model.inputs, [layer.output, features])
    classes = np.asarray(classes, dtype=np.int32)
    size = np.shape(images)[1:3]
    out = []
    for part in _batches(len(images), batch_size):
        def forward(x, part=part):
            maps, feats = both(x, training=False)
            return maps, score(feats, classes[part])

        maps, grads = tensorflow_gradient(forward, images[part])
        weights = tf.reduce_mean(tf.cast(grads, tf.float32), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * tf.cast(maps, tf.float32), axis=-1, keepdims=True))
        out.append(tf.image.resize(cam, size, method="bilinear").numpy()[..., 0])
    return np.concatenate(out) if out else np.zeros(np.shape(images)[:3], np.float32)


def occlusion_sensitivity(model, images, classes, patch=8, stride=4, batch_size=256):
    """Mean drop of the class probability when a ``patch``×``patch`` square (filled with the
    image's mean) covers each pixel, sliding by ``stride``: N×H×W, positive where hiding the pixel
    hurts. Forward passes only (any backend)."""
    images = np.asarray(images, dtype=np.float32)
    n, height, width = images.shape[:3]
    if not 0 < patch <= min(height, width) or stride < 1:
        raise FERError(f"occlusion patch must be 1..{min(height, width)} pixels and stride ≥ 1, "
                       f"got {patch} and {stride}")
    tops = sorted(set(range(0, height - patch + 1, stride)) | {height - patch})
    lefts = sorted(set(range(0, width - patch + 1, stride)) | {width - patch})
    positions = [(top, left) for top in tops for left in lefts]
    classes = np.asarray(classes)
    base = class_probability(model.predict(images, batch_size=batch_size, verbose=0), classes)
    heat = np.zeros((n, height, width))
    count = np.zeros((height, width))
    for top, left in positions:
        count[top:top + patch, left:left + patch] += 1
    per_call = max(1, batch_size * 8 // len(positions))
    for part in _batches(n, per_call):
        chunk = images[part]
        occluded = np.repeat(chunk[:, None], len(positions), axis=1)
        fill = chunk.mean(axis=(1, 2, 3))
        for j, (top, left) in enumerate(positions):
            occluded[:, j, top:top + patch, left:left + patch] = fill[:, None, None, None]
        scores = model.predict(occluded.reshape(-1, *images.shape[1:]), batch_size=batch_size, verbose=0)
        drop = base[part, None] - class_probability(scores, np.repeat(classes[part], len(positions))).reshape(
            len(chunk), len(positions))
        for j, (top, left) in enumerate(positions):
            heat[part, top:top + patch, left:left + patch] += drop[:, j, None, None]
    return (heat / count).astype(np.float32)


def saliency_maps(model, images, classes, method="gradient", **options):
    """N×H×W maps by ``method`` ("gradient", "gradcam" or "occlusion"); ``options`` go to its function."""
    functions = {"gradient": gradient_saliency, "gradcam": grad_cam, "occlusion": occlusion_sensitivity}
    return functions[check_method(method)](model, np.asarray(images, dtype=np.float32), classes, **options)


def check_method(method):
    """``method`` if it is one of ``SALIENCY_METHODS``; a one-line error otherwise."""
    if method not in SALIENCY_METHODS:
        raise FERError(f"unknown saliency method {method!r}; expected one of {', '.join(SALIENCY_METHODS)}")
    return method


# --------------------------------------------------------------------------- measuring and showing


def mask_mass_ratio(saliency, masks):
    """How strongly saliency concentrates inside ``masks`` (bool N×H×W): the mean share of each
    image's (positive) saliency mass that lies inside its mask, divided by the mean share of the
    image area the mask covers. 1 means no preference; images with an empty mask or no saliency
    are left out."""
    s = np.clip(np.asarray(saliency, dtype=np.float64), 0, None)
    m = np.asarray(masks, dtype=bool)
    total = s.sum(axis=(1, 2))
    keep = (total > 0) & m.any(axis=(1, 2))
    if not keep.any():
        raise FERError("no image has both saliency and a non-empty mask")
    inside = (s * m).sum(axis=(1, 2))[keep] / total[keep]
    return float(inside.mean() / m[keep].mean(axis=(1, 2)).mean())


def select_examples(labels, n, seed=0):
    """Indices of ``n`` examples taken round-robin over the classes present (in label order), at
    random within each class: every emotion shows up in a small grid."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    pools = [list(rng.permutation(np.flatnonzero(labels == c))) for c in np.unique(labels)]
    chosen = []
    while len(chosen) < min(n, len(labels)):
        for pool in pools:
            if pool and len(chosen) < n:
                chosen.append(int(pool.pop(0)))
    return np.array(chosen, dtype=np.int64)


def run_saliency(run_dir, n=16, method="gradient", data=None, results_dir="results", target="true", layer=None,
                 seed=0):
    """Saliency maps of ``n`` test images of the run in ``run_dir`` (best checkpoint); writes the grid
    PNG to ``results_dir/<run>/saliency_<method>.png`` and returns its path."""
    from fer_keras.evaluation.evaluate import load_keras_model, predicted_labels, run_test_split
    from fer_keras.evaluation.plots import plot_saliency_grid

    if check_method(method) != "occlusion":
        _require_tensorflow(method)
    run_dir = Path(run_dir)
    test, _ = run_test_split(run_dir, data)
    model = load_keras_model(Run(run_dir).best)
    pick = select_examples(test.labels, n, seed)
    images, truth = test.x[pick], test.labels[pick]
    predicted = predicted_labels(model.predict(images, verbose=0))
    options = {"layer": layer} if method == "gradcam" else {}
    maps = saliency_maps(model, images, truth if target == "true" else predicted, method, **options)
    names = np.asarray(test.class_names)
    out_dir = Path(results_dir) / run_dir.name
    explained = "true" if target == "true" else "predicted"
    titles = {"gradient": "vanilla gradient", "gradcam": "Grad-CAM", "occlusion": "occlusion sensitivity"}
    grid = f"saliency_{method}.png"
    # the run's results folder is swapped whole (its evaluation and other grids carried over), never half-written
    replace_folder(out_dir, lambda folder: plot_saliency_grid(
        images, maps, names[truth], names[predicted], folder / grid,
        title=f"{run_dir.name} — {titles[method]} of the {explained} class "
        f"({(truth == predicted).sum()} of {len(pick)} right)"), carry=lambda name: name != grid)
    return out_dir / grid


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.saliency",
        description="Saliency maps of a run's test images: vanilla gradients, Grad-CAM (TensorFlow backend) or "
        "occlusion sensitivity (any backend). Writes results/<run>/saliency_<method>.png.",
        epilog="example: python -m fer_keras.saliency --method gradcam "
        "--run callbacks/cnn_lstm_v5_final-20261121-101500")
    parser.add_argument("--run", required=True, help="a training run folder (callbacks/<variant>-<time>/)")
    parser.add_argument("--n", type=int, default=16, help="test images to show (default: %(default)s)")
    parser.add_argument("--method", choices=SALIENCY_METHODS, default="gradient", help="(default: %(default)s)")
    parser.add_argument("--target", choices=("true", "predicted"), default="true",
                        help="explain each image's true or predicted class (default: %(default)s)")
    parser.add_argument("--layer", help="Grad-CAM layer name (default: the last convolutional feature map)")
    parser.add_argument("--data", help="CSV, image folder or 'synthetic'; overrides the run's recorded source")
    parser.add_argument("--seed", type=int, default=0, help="which test images are picked (default: %(default)s)")
    parser.add_argument("--results-dir", default="results", help="the PNG goes to DIR/<run>/ (default: %(default)s)")
    args = parser.parse_args(argv)
    check_options(args, ("seed",))
    import_keras_quietly()
    if args.n < 1:
        raise FERError(f"--n must be a positive integer, got {args.n}")
    if args.layer and args.method != "gradcam":
        raise FERError("--layer applies to --method gradcam only")
    check_output_dir(args.results_dir, "--results-dir")
    path = run_saliency(args.run, args.n, args.method, args.data, args.results_dir, args.target, args.layer, args.seed)
    print(f"wrote {path}")
    return 0
