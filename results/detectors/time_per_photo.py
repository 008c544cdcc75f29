"""Time per 250×250 photo, one photo at a time (read excluded), for the recognizer and fer's classifier.

    nice -n 19 python results/detectors/time_per_photo.py ../shared/data/realphoto_dev FER_HDF5 [N]

Wall-clock and process-CPU milliseconds per photo (detect + crop + classify) over the first N photos
(default 150, every 6th of the sorted list), each resized to
250×250 (most realphoto_dev photos are 350×350 LFW photos; issue 22 asks for 250×250); CPU time counts every thread and is the steadier number on a
shared machine. fer's classifier runs behind our Haar or BlazeFace detector and crop (fer itself is not
imported); it is called with predict_on_batch, as ours is.
"""

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer_keras.cli import import_keras_quietly

import_keras_quietly()
from fer_keras.data.faces import CROPS, crop_face, make_detector, read_image, to_grey  # noqa: E402
from fer_keras.evaluation.photos import load_fer_classifier, scan_photos  # noqa: E402
from fer_keras.inference.predict import EmotionRecognizer  # noqa: E402


def fer_pipeline(model, detector_name, margin, shift):
    detector = make_detector(detector_name)

    def run(image):
        grey = to_grey(image)
        boxes = detector.detect(grey)
        if boxes:
            faces = np.stack([crop_face(grey, b, margin, 64, shift) for b in boxes]).astype(np.float32)
            model.predict_on_batch((faces[..., None] / 255.0 - 0.5) * 2.0)
    return run


def main(folder, fer_file, n=150):
    photos, _ = scan_photos(folder)
    images = [cv2.resize(read_image(p), (250, 250), interpolation=cv2.INTER_AREA) for p, _ in photos[::6][:n]]
    fer = load_fer_classifier(fer_file)
    pipelines = {
        "fer_keras default (BlazeFace, FERNet-S .keras, flip TTA)": EmotionRecognizer().detect_emotions,
        "fer_keras one view (--tta none)": EmotionRecognizer(tta="none").detect_emotions,
        "fer_keras --fast (BlazeFace, int8 TFLite)": EmotionRecognizer(fast=True).detect_emotions,
        "fer_keras --detector haar (the previous default)": EmotionRecognizer(detector="haar").detect_emotions,
        "fer's classifier, Haar boxes (margin 0.1)": fer_pipeline(fer, "haar", 0.1, 0.0),
        "fer's classifier, BlazeFace boxes (same crops as ours)": fer_pipeline(fer, "blazeface", *CROPS["blazeface"]),
    }
    table = {}
    for name, run in pipelines.items():
        for image in images[:5]:
            run(image)  # warm-up
        wall, cpu = time.perf_counter(), time.process_time()
        for image in images:
            run(image)
        table[name] = {"wall_ms": 1000 * (time.perf_counter() - wall) / len(images),
                       "cpu_ms": 1000 * (time.process_time() - cpu) / len(images), "photos": len(images)}
        print(f"{name}: {table[name]['wall_ms']:.1f} wall-ms, {table[name]['cpu_ms']:.1f} CPU-ms per photo",
              file=sys.stderr, flush=True)
    return table


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2], *(int(a) for a in sys.argv[3:])), indent=2))
