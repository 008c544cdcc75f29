"""Video in and out: a file or webcam opened, its frames, faces drawn on a frame — and a video as a
table: one row per face per analysed frame (frame, time, box, seven probabilities, top emotion), a
per-video summary (share of frames per emotion, faces/s), and optionally a CSV and an annotated copy
of the video — what the ``fer`` package's ``Video.analyze`` + ``to_pandas`` give.

    from fer_keras.inference.predict import EmotionRecognizer
    table, summary = EmotionRecognizer().video_table("clip.mp4", every=5, csv="clip.csv",
                                                     annotated="clip_annotated.mp4")
"""

import os
import time
from pathlib import Path


from fer_keras import EMOTIONS
from fer_keras.cli import lazy_import
from fer_keras.errors import FERDataError, FERError
from fer_keras.files import atomic_write

pd = lazy_import("pandas")
cv2 = lazy_import("cv2")


def open_video(source):
    """A ``cv2.VideoCapture`` on a video file or a webcam index (int); FERDataError if it won't open."""
    if isinstance(source, int):
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            raise FERDataError(f"webcam {source}: could not be opened")
        return capture
    path = Path(source)
    if not path.is_file():
        raise FERDataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FERDataError(f"{path}: empty file (0 bytes)")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FERDataError(f"{path}: not a readable video (corrupt or unsupported codec)")
    return capture


def video_fps(capture, default=25.0):
    """Frames per second an opened video reports (``default`` when it reports none, as webcams may)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    return fps if 0 < fps < 1000 else default


def iter_frames(capture, every=1, max_frames=None, name="video"):
    """Yield ``(frame_index, BGR frame)`` for every ``every``-th frame of an opened capture, up to
    ``max_frames`` frames read; releases it at the end. FERDataError if no frame decodes."""
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, frame = capture.read()
            if not ok:
                if index == 0:
                    raise FERDataError(f"{name}: no decodable frame")
                return
            if index % every == 0:
                yield index, frame
            index += 1
    finally:
        capture.release()


def read_video(source, every=1, max_frames=None):
    """Yield ``(frame_index, BGR frame)`` for every ``every``-th frame of a video file or a webcam
    index, stopping after ``max_frames`` frames read. FERDataError if it cannot be decoded."""
    yield from iter_frames(open_video(source), every, max_frames, name=str(source))


def draw_faces(image, faces):
    """A copy of ``image`` (BGR) with each face's box and top emotion drawn on it."""
    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    scale = max(0.4, min(out.shape[:2]) / 800)
    thick = max(1, round(2 * scale))
    for face in faces:
        x, y, w, h = face["box"]
        emotion, score = max(face["emotions"].items(), key=lambda ep: ep[1])
        label = f"{emotion} {score:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), thick)
        top = y - th - base - 2 if y - th - base - 2 >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 4, top + th + base + 2), (0, 200, 0), cv2.FILLED)
        cv2.putText(out, label, (x + 2, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick,
                    cv2.LINE_AA)
    return out


def columns(class_names=EMOTIONS):
    """The per-face table's columns for a model with these classes."""
    return ["frame", "time_s", "face", "x", "y", "w", "h", *class_names, "emotion", "score"]


COLUMNS = columns()


def video_table(recognizer, source, every=1, max_frames=None, csv=None, annotated=None):
    """Analyse every ``every``-th frame of ``source`` (a video file or a webcam index) with
    ``recognizer``, reading at most ``max_frames`` frames.

    Returns ``(table, summary)``: ``table`` a DataFrame with ``COLUMNS`` (one row per face; a frame
    without a face has no row), ``summary`` a dict — frames read and analysed, frames with a face,
    faces, faces per second (detection + classification), and ``emotion_share``: for each emotion
    the share of analysed frames with a face whose largest face shows it most. ``csv`` writes the
    table; ``annotated`` writes the analysed frames with boxes and labels (mp4v, or MJPG .avi);
    both through a temporary name, so a failure leaves no partial file.
    """
    class_names = getattr(recognizer, "class_names", EMOTIONS)
    every = int(every)
    if every < 1:
        raise FERError(f"every must be at least 1, got {every}")
    capture = open_video(source)
    fps = video_fps(capture)
    writer = None
    if annotated is not None:
        annotated = Path(annotated)
        partial = annotated.with_name(f".{annotated.stem}.partial{annotated.suffix or '.mp4'}")  # cv2 needs the suffix
    rows, top = [], []
    started = time.perf_counter()
    analysed = []

    def counted(frames):
        for item in frames:
            analysed.append(item[0])
            yield item

    try:
        for index, frame, faces in recognizer.analyze(counted(iter_frames(capture, every, max_frames, str(source)))):
            for k, face in enumerate(faces):
                emotions = face["emotions"]
                emotion = max(emotions, key=emotions.get)
                rows.append([index, index / fps, k, *face["box"], *emotions.values(), emotion, emotions[emotion]])
            if faces:
                largest = max(faces, key=lambda face: face["box"][2] * face["box"][3])["emotions"]
                top.append(max(largest, key=largest.get))
            if annotated is not None:
                if writer is None:
                    writer = _video_writer(partial, fps / every, frame.shape[1], frame.shape[0])
                writer.write(draw_faces(frame, faces))
    except BaseException:
        if writer is not None:
            writer.release()
            partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - started
    table = pd.DataFrame(rows, columns=columns(class_names))
    if writer is not None:
        writer.release()
        os.replace(partial, annotated)
    summary = {
        "source": str(source), "fps": fps, "every": every, "frames_analysed": len(analysed),
        "frames_with_face": len(top), "faces": len(table), "seconds": seconds,
        "faces_per_s": len(table) / seconds if seconds else 0.0,
        "emotion_share": {e: (top.count(e) / len(top) if top else 0.0) for e in class_names},
    }
    if annotated is not None and writer is None:
        raise FERError(f"{source}: no frame was analysed, so no annotated video was written to {annotated}")
    if csv is not None:
        atomic_write(csv, lambda tmp: table.to_csv(tmp, index=False))
    return table, summary


def _video_writer(path, fps, width, height):
    for codec in ("mp4v", "MJPG"):
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), max(fps, 1.0), (width, height))
        if writer.isOpened():
            return writer
    raise FERError(f"cannot write the annotated video {path}: no working codec (mp4v, MJPG)")
