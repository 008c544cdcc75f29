"""The region vote of trained runs against their whole-face vote (Bakiasi & Muça 2024):
``python -m fer_keras.ensemble --members RUN ... --regions whole,left_eye,right_eye,nose,mouth,rest``.

Every member classifies every region of every face (``region_vote`` below) and the label
most (member, region) pairs predict wins; a tie goes to the highest mean probability over all pairs,
then the lowest class index. The models see a region at their own 48×48 input: each part's box
(left_eye, right_eye, nose, mouth) is cut out and **resized back to 48×48** (an enlarged crop);
"rest" is the face **masked** — its four boxes filled with the face's mean grey; "whole" is the face.
So no model ever gets an input smaller than the 48×48×1 it was trained on, and a model that takes
anything else is refused when it is loaded (``saved_models.check_model``).

The region vote is compared with the same members' **whole-face vote** (region "whole" alone). The
choice between the two is made on the runs' validation split only (FER2013's PublicTest under the
usage split), as the first run recorded it (made again from the data for a run made before runs
recorded it); the recorded test split (PrivateTest) is
reported once, for both votes, and chooses nothing. Each vote is written like the other ensembles:
``results/<name>/`` (the region vote) and ``results/<name>-whole_face/``, each with metrics.json,
report.md (the comparison table in both), the confusion matrix and config.json. The inference time
(``n_calls``) is measured for the whole-face vote, the members in one predict call as for
``fer_keras.evaluation.ensemble``; the region vote runs that call once per region.
"""

import sys
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras import IMAGE_SIZE
from fer_keras.data.container import to_model_input
from fer_keras.data.regions import VOTE_REGIONS, check_regions, face_regions
from fer_keras.errors import FERError
from fer_keras.evaluation.evaluate import (TIMING_CALLS, load_keras_model, model_scores, predicted_labels, read_config,
                                           run_val_split, time_inference, variant_from_config, write_results)
from fer_keras.evaluation.members import check_same_split, label_metrics, shared_test_split
from fer_keras.models.combine import average_probabilities, ensemble_model, majority_vote
from fer_keras.runs.folder import Run, check_output_dir


@dataclass(frozen=True, eq=False)
class RegionVote:
    """What :func:`region_vote` found for N faces and K classes.

    labels:        N winning classes.
    votes:         N×K, how many (model, region) pairs voted for each class.
    probabilities: N×K, the mean probability over all (model, region) pairs (the tie-breaker).
    members:       the (model name, region) pair of each vote, in order.
    """

    labels: np.ndarray
    votes: np.ndarray
    probabilities: np.ndarray
    members: tuple


def check_class_counts(models, names=None):
    """The models' shared number of classes; a one-line FERError lists each model's (by ``names``,
    default their own) unless all have the same number, at least 2."""
    counts = [int(m.outputs[0].shape[-1]) for m in models]
    if len(set(counts)) != 1 or counts[0] < 2:
        listed = ", ".join(f"{name}: {c}" for name, c in zip(names or [m.name for m in models], counts))
        raise FERError(f"region_vote needs softmax models with the same number of classes (at least 2), got {listed}")
    return counts[0]


def region_vote(models, faces, regions=VOTE_REGIONS, landmarks=None, batch_size=256):
    """Majority vote of every model on every region of N 48×48 uint8 ``faces`` (Bakiasi & Muça 2024).

    Each (model, region) pair votes its arg-max; the class with most votes wins. A tie is broken by
    the mean probability over all pairs (``fer_keras.models.combine.majority_vote``: the tied class
    with the highest summed probability, then the lowest class index).

    Args:
        models: Keras models taking N×48×48×1 in [0, 1], all with the same number of classes.
        faces: N×48×48 (or N×48×48×1) uint8 grey faces.
        regions: names from ``VOTE_REGIONS`` (default: all five regions and the whole face).
        landmarks: None (fixed geometric regions) or one landmark dict (or None) per face.
        batch_size: images per predict call.

    Returns a :class:`RegionVote`.
    """
    models, regions = list(models), check_regions(regions)
    if not models:
        raise FERError("region_vote needs at least one model")
    num_classes = check_class_counts(models)
    faces = np.asarray(faces)
    if faces.ndim == 4 and faces.shape[-1] == 1:
        faces = faces[..., 0]
    if faces.ndim != 3 or faces.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE) or faces.dtype != np.uint8 or not len(faces):
        raise FERError(f"faces must be N×{IMAGE_SIZE}×{IMAGE_SIZE} uint8 grey images, got shape {faces.shape} and "
                       f"dtype {faces.dtype}")
    if landmarks is None:
        landmarks = [None] * len(faces)
    elif len(landmarks) != len(faces):
        raise FERError(f"got {len(landmarks)} landmark dicts for {len(faces)} faces; give one (or None) per face")
    cut = [face_regions(face, marks, regions) for face, marks in zip(faces, landmarks)]
    outputs, members = [], []
    for region in regions:
        x = to_model_input(np.stack([c[region] for c in cut]))
        for model in models:
            outputs.append(np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64))
            members.append((model.name, region))
    votes = sum(np.eye(num_classes, dtype=np.int64)[out.argmax(axis=1)] for out in outputs)
    return RegionVote(majority_vote(outputs), votes, average_probabilities(outputs), tuple(members))


WHOLE = ("whole",)
VOTES = {"region_vote": "Bakiasi & Muça 2024: every member on every region, majority vote",
         "whole_face_vote": "the same members on the whole face, majority vote (the region vote's baseline)"}


def parse_regions(text):
    """``"whole,left_eye"`` → ``("whole", "left_eye")``, checked by :func:`check_vote_regions`."""
    return check_vote_regions([name.strip() for name in str(text).split(",") if name.strip()])


def check_vote_regions(regions):
    """``regions`` as a tuple; a one-line FERError names an unknown region (listing the valid ones), a
    repeated one, or "whole" alone (the whole-face vote itself: nothing to compare)."""
    regions = check_regions(regions)
    repeated = sorted({r for r in regions if regions.count(r) > 1})
    if repeated:
        raise FERError(f"face region {repeated[0]!r} is listed twice in --regions; each region votes once")
    if regions == WHOLE:
        raise FERError(f"--regions whole alone is the whole-face vote itself; add some of "
                       f"{', '.join(r for r in VOTE_REGIONS if r != 'whole')}")
    return regions


def _faces(held_out):
    """A split's model input back as the N×48×48 uint8 faces ``region_vote`` cuts regions from."""
    return np.rint(held_out.x[..., 0] * 255).astype(np.uint8)


def _load_members(run_dirs, configs, data):
    """(test split, validation split, models) of seven-class honest runs tested on one split."""
    check_same_split(run_dirs, configs)
    binary = [d.name for d, c in zip(run_dirs, configs) if variant_from_config(c).binary]
    if binary:
        raise FERError(f"the region vote combines seven-class runs; {', '.join(binary)} is binary")
    test = shared_test_split(run_dirs)
    if test.protocol != "honest":
        raise FERError(f"{run_dirs[0].name} uses the LEAKY {test.protocol} protocol, whose validation split (where "
                       "the region vote is chosen) is not recorded; compare honest runs")
    val = run_val_split(run_dirs[0], data)
    models = [load_keras_model(Run(d).best) for d in run_dirs]
    classes = check_class_counts(models, [d.name for d in run_dirs])
    if classes != test.label_set.num_classes:
        raise FERError(f"the runs' models have {classes} outputs; the region vote needs one per class of "
                       f"{test.label_set.name} ({test.label_set.num_classes}: {', '.join(test.label_set.classes)})")
    return test, val, models


def compare_region_vote(members, regions=VOTE_REGIONS, data=None, results_dir="results", name=None,
                        n_calls=TIMING_CALLS):
    """The region vote (``regions``) and the whole-face vote of the runs ``members`` (one or more),
    chosen between on their validation split, both reported on their recorded test split (see the
    module docstring). ``data`` overrides the runs' recorded source (its fingerprint is checked).
    Every check runs before anything is written. Writes ``results_dir/<name>/`` and
    ``results_dir/<name>-whole_face/`` (default name ``region_vote-<time>``); returns
    ``{vote: (metrics, folder)}`` for "region_vote" and "whole_face_vote"."""
    regions = check_vote_regions(regions)
    check_output_dir(results_dir, "--results-dir")
    run_dirs = [Path(m) for m in members]
    if not run_dirs:
        raise FERError("the region vote needs at least one run in --members")
    configs = [read_config(d) for d in run_dirs]
    test, val, models = _load_members(run_dirs, configs, data)

    vote_regions = {"region_vote": regions, "whole_face_vote": WHOLE}
    faces = {"validation": _faces(val), "test": _faces(test)}
    labels = {vote: {part: region_vote(models, faces[part], r).labels for part in faces}
              for vote, r in vote_regions.items()}
    fields = {vote: label_metrics(test, found["test"]) for vote, found in labels.items()}
    rows = {vote: {"regions": list(vote_regions[vote]),
                   "validation_accuracy": float((found["validation"] == val.labels).mean()),
                   "test_accuracy": fields[vote]["test_accuracy"], "test_macro_f1": fields[vote]["test_macro_f1"]}
            for vote, found in labels.items()}
    better = rows["region_vote"]["validation_accuracy"] > rows["whole_face_vote"]["validation_accuracy"]
    comparison = {"selected": "region_vote" if better else "whole_face_vote", "selected_on": "validation",
                  "split": val.variant.split, "n_validation": int(len(val.labels)), "votes": rows}
    member_accuracy = {d.name: float((predicted_labels(model_scores(m, test.x)[0]) == test.labels).mean())
                       for d, m in zip(run_dirs, models)}

    name = name or f"region_vote-{datetime.now():%Y%m%d-%H%M%S}"
    folders = {"region_vote": name, "whole_face_vote": f"{name}-whole_face"}
    config = {"region_vote": {"regions": list(regions), "members": [str(d) for d in run_dirs],
                              "folders": folders}, "data": asdict(configs[0].data), "command": " ".join(sys.argv),
              "members": {d.name: c.to_dict() for d, c in zip(run_dirs, configs)}}
    written = {}
    for vote, folder in folders.items():
        metrics = dict(fields[vote])
        metrics.update(variant=vote, method="vote", regions=list(vote_regions[vote]),
                       members=[d.name for d in run_dirs], member_accuracy=member_accuracy, data=test.source,
                       protocol=test.protocol, leaky=test.leaky, reference=VOTES[vote],
                       validation_accuracy=rows[vote]["validation_accuracy"], comparison=comparison,
                       evaluated=datetime.now().isoformat(timespec="seconds"))
        if n_calls and vote == "whole_face_vote":
            print(f"timing inference of the {len(models)} members together: {n_calls} predict calls …")
            metrics["inference"] = time_inference(ensemble_model(models), test.x, n_calls=n_calls)
        out_dir = Path(results_dir) / folder
        title = f"{folder} ({len(models)} member{'s' * (len(models) > 1)} × {len(vote_regions[vote])} region(s))"
        written[vote] = write_results(out_dir, metrics, title, config=config), out_dir
    return written
