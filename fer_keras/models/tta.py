"""Test-time augmentation: average a model's probabilities over flipped and shifted views (used by the
evaluation, the recognizer and distillation's teachers, so it sits below all three).

``"flip"``: the image and its mirror (2 views). ``"crops"``: the image shifted by ``shift`` pixels
towards each corner and the centre of its reflect-padded copy — the views the "modern" recipe's
crop augmentation trains on — each with its mirror (10 views; the ten-crop protocol of Khaireddin &
Chen 2021 at 48×48). NumPy views and ``model.predict`` (the recognizer stacks the views into one
``predict_on_batch`` call instead); any backend.
"""

import numpy as np

from fer_keras.errors import FERError

TTA_MODES = ("none", "flip", "crops")


def check_tta(mode):
    """``mode`` if it is a known TTA mode; a one-line error otherwise."""
    if mode not in TTA_MODES:
        raise FERError(f"unknown TTA mode {mode!r}; expected one of {', '.join(TTA_MODES)}")
    return mode


def shifted(x, dy, dx):
    """``x`` (N×H×W×C) moved by (dy, dx) pixels, the uncovered border filled by reflection."""
    pad = max(abs(dy), abs(dx))
    if not pad:
        return x
    height, width = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    return padded[:, pad + dy:pad + dy + height, pad + dx:pad + dx + width]


def tta_views(x, mode, shift=2):
    """The list of views of batch ``x`` that ``mode`` averages over (the first is ``x`` itself)."""
    check_tta(mode)
    if mode == "none":
        return [x]
    offsets = [(0, 0)] if mode == "flip" else [(0, 0), (-shift, -shift), (-shift, shift), (shift, -shift),
                                               (shift, shift)]
    views = []
    for dy, dx in offsets:
        view = shifted(x, dy, dx)
        views += [view, view[:, :, ::-1]]
    return views


def predict_tta(model, x, mode="flip", batch_size=256, shift=2):
    """Mean of ``model.predict`` over the TTA views of ``x``: probabilities N×K (as ``predict``)."""
    views = tta_views(np.asarray(x, dtype=np.float32), mode, shift)
    total = None
    for view in views:
        scores = model.predict(np.ascontiguousarray(view), batch_size=batch_size, verbose=0)
        total = scores if total is None else total + scores
    return total / len(views)
