"""Face detectors on labelled photos: found rate, false faces on face-free images, box fit, ms per photo.

    nice -n 19 python -m fer_keras.detector_compare ../shared/data/realphoto_dev > results/detectors/summary.json

Each photo folder's photos are read once (grey, as ``EmotionRecognizer`` gives detectors); every
detector setting sees the same images. *Found*: at least one face. *Box*: the largest box's side
(mean of width and height) over the photo's shorter side. *IoU with Haar*: the largest box's
intersection over union with the default Haar cascade's, on photos where both found a face.
*False faces*: boxes on scikit-image's sample images that show no human face. Times are wall-clock
per photo on a shared, niced CPU: compare them with each other, not across machines.
"""

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_keras.data.faces import BlazeFaceDetector, FaceDetector, MTCNNDetector, read_image, to_grey
from fer_keras.evaluation.photos import largest, scan_photos

FACE_FREE = ("coffee", "chelsea", "rocket", "coins", "horse", "moon", "page", "text", "clock", "brick", "grass",
             "gravel", "colorwheel", "logo", "hubble_deep_field", "immunohistochemistry", "cell", "retina", "lily",
             "motorcycle")
"""scikit-image samples without a human face (its astronaut and camera show one; chelsea is a cat)."""


def detectors():
    return {
        "haar (predict's haar settings: scale 1.1, neighbours 5, min 30)": lambda: FaceDetector(1.1, 5, 30),
        "haar tuned (scale 1.05, neighbours 3, min 30)": lambda: FaceDetector(1.05, 3, 30),
        "haar tuned (scale 1.05, neighbours 2, min 24)": lambda: FaceDetector(1.05, 2, 24),
        "haar tuned (scale 1.1, neighbours 3, min 30)": lambda: FaceDetector(1.1, 3, 30),
        "blazeface (the default: short-range 0.5, padded second pass 0.55)": lambda: BlazeFaceDetector(30),
        "blazeface short-range (threshold 0.5), no second pass": lambda: BlazeFaceDetector(30, "short", pad=0),
        "blazeface short-range, threshold 0.3, no second pass": lambda: BlazeFaceDetector(30, "short", 0.3, pad=0),
        "blazeface full-range (MediaPipe threshold 0.6), no second pass": lambda: BlazeFaceDetector(30, "full", pad=0),
        "blazeface full-range, threshold 0.4, no second pass": lambda: BlazeFaceDetector(30, "full", 0.4, pad=0),
        "mtcnn (threshold 0.9)": lambda: MTCNNDetector(30),
    }


def face_free_images():
    from skimage import data

    images = {}
    for name in FACE_FREE:
        try:
            image = getattr(data, "stereo_motorcycle" if name == "motorcycle" else name)()
        except Exception:  # a sample that needs a download (offline here)
            continue
        image = image[0] if isinstance(image, tuple) else image
        image = np.asarray(image)
        image = image.astype(np.float64) if image.dtype == bool else image
        if image.dtype != np.uint8:
            image = (255 * (image - image.min()) / max(float(image.max() - image.min()), 1e-9)).astype(np.uint8)
        images[name] = to_grey(image[..., :3][..., ::-1].copy() if image.ndim == 3 else image)
    return images


def iou(a, b):
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0, min(ax1, bx1) - max(a[0], b[0]))
    h = max(0, min(ay1, by1) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


def main(folder):
    photos, _ = scan_photos(folder)
    greys = [to_grey(read_image(path)) for path, _ in photos]
    negatives = face_free_images()
    table, reference = {}, None
    for name, make in detectors().items():
        detector = make()
        detector.detect(greys[0])  # warm-up
        boxes, start = [], time.perf_counter()
        for grey in greys:
            boxes.append(largest(detector.detect(grey)))
        ms = 1000 * (time.perf_counter() - start) / len(greys)
        false = {key: len(detector.detect(image)) for key, image in negatives.items()}
        found = [b is not None for b in boxes]
        sides = [((b[2] + b[3]) / 2) / min(g.shape[:2]) for b, g in zip(boxes, greys) if b is not None]
        if reference is None:
            reference = boxes
        overlaps = [iou(a, b) for a, b in zip(boxes, reference) if a is not None and b is not None]
        table[name] = {"found": float(np.mean(found)), "n_photos": len(greys), "false_faces": sum(false.values()),
                       "false_faces_by_image": {k: v for k, v in false.items() if v},
                       "n_face_free_images": len(negatives), "box_side_median": float(np.median(sides)),
                       "box_side_p10_p90": [float(np.percentile(sides, 10)), float(np.percentile(sides, 90))],
                       "iou_with_haar_median": float(np.median(overlaps)), "ms_per_photo": ms}
        print(f"{name}: found {table[name]['found']:.1%}, false faces {table[name]['false_faces']} on "
              f"{len(negatives)} images, box {table[name]['box_side_median']:.2f} of the photo, IoU with Haar "
              f"{table[name]['iou_with_haar_median']:.2f}, {ms:.1f} ms/photo", file=sys.stderr, flush=True)
    return table


if __name__ == "__main__":
    cv2.setNumThreads(1)
    print(json.dumps(main(Path(sys.argv[1])), indent=2))
