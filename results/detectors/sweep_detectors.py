"""Detector settings on realphoto_dev: found rate, false faces on scikit-image's face-free samples, ms/photo.

    nice -n 19 python results/detectors/sweep_detectors.py [NAME ...]   # all settings when none is named

The largest box per photo goes to /tmp/sweep/boxes/NAME.json for sweep_crops.py. "bf_final" is
fer_keras's default detector (BlazeFace short-range, padded second pass, 0.55 threshold there).
"""
import json, sys, time
from pathlib import Path
import cv2, numpy as np
cv2.setNumThreads(1)
from fer_keras.data.faces import BlazeFaceDetector, FaceDetector, MTCNNDetector, read_image, to_grey
from fer_keras.evaluation.photos import largest, scan_photos
from fer_keras.bench.detectors import face_free_images

photos, _ = scan_photos(Path("../shared/data/realphoto_dev"))
greys = [to_grey(read_image(p)) for p, _ in photos]
negs = face_free_images()
out = Path("/tmp/sweep/boxes"); out.mkdir(exist_ok=True)

def padded(det, frac):
    def detect(g):
        h, w = g.shape; p = int(round(frac * max(h, w)))
        big = cv2.copyMakeBorder(g, p, p, p, p, cv2.BORDER_CONSTANT, value=int(g.mean()))
        return [[x - p, y - p, bw, bh] for x, y, bw, bh in det.detect(big)]
    return detect

def fallback(a, b):
    def detect(g):
        return a(g) or b(g)
    return detect

cfgs = {
 "bf_final": lambda: __import__("fer_keras.data.faces").faces.BlazeFaceDetector(30).detect,
 "haar": lambda: FaceDetector(1.1, 5, 30).detect,
 "bf_short_0.5": lambda: BlazeFaceDetector(30, "short").detect,
 "bf_short_0.3": lambda: BlazeFaceDetector(30, "short", 0.3).detect,
 "bf_short_0.5_pad0.25": lambda: padded(BlazeFaceDetector(30, "short"), 0.25),
 "bf_full_0.6": lambda: BlazeFaceDetector(30, "full").detect,
 "bf_full_0.4": lambda: BlazeFaceDetector(30, "full", 0.4).detect,
 "bf_short_0.5_pad0.5": lambda: padded(BlazeFaceDetector(30, "short"), 0.5),
 "bf_short_0.5_then_pad0.25": lambda: fallback(BlazeFaceDetector(30, "short").detect, padded(BlazeFaceDetector(30, "short"), 0.25)),
 "bf_short_0.5_then_haar": lambda: fallback(BlazeFaceDetector(30, "short").detect, FaceDetector(1.1, 5, 30).detect),
 "mtcnn_0.9": lambda: MTCNNDetector(30).detect,
}
names = sys.argv[1:] or list(cfgs)
for name in names:
    det = cfgs[name](); det(greys[0])
    t = time.perf_counter(); boxes = [largest(det(g)) for g in greys]
    ms = 1000 * (time.perf_counter() - t) / len(greys)
    false = {k: len(det(im)) for k, im in negs.items()}
    found = np.mean([b is not None for b in boxes])
    json.dump({"boxes": boxes, "ms": ms, "false": false}, open(out / f"{name}.json", "w"))
    print(f"{name}: found {found:.1%} false {sum(false.values())} {dict((k,v) for k,v in false.items() if v)} {ms:.1f} ms", flush=True)
