"""Runs taken together (an ensemble's members, the region vote's voters): they must have been tested
on the same split, which is then read once; metrics of the labels they predict together."""

from pathlib import Path

import numpy as np

from fer_keras.errors import FERError
from fer_keras.evaluation.evaluate import evaluation_fields, extra_fields, run_test_split, split_key
from fer_keras.runs.folder import Run


def check_same_split(run_dirs, configs):
    """A FERError names a run listed twice or the first pair of runs tested on different splits."""
    if len({Path(d).resolve() for d in run_dirs}) != len(run_dirs):
        raise FERError("the same run is listed twice in --members")
    first = split_key(configs[0])
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        key = split_key(config)
        if key != first:
            field = next(k for k in sorted(set(first) | set(key)) if first.get(k) != key.get(k))
            raise FERError(f"{Path(run_dirs[0]).name} and {Path(run_dir).name} were tested on different test splits "
                           f"({field}: {first.get(field)!r} vs {key.get(field)!r}); ensemble runs of the same data, "
                           "cleaning, split and protocol")


def shared_test_split(run_dirs, data=None):
    """The test split the runs ``run_dirs`` recorded (a HeldOutSplit, see ``evaluate.run_test_split``);
    a FERError if one of them recorded other images."""
    test, _ = run_test_split(run_dirs[0], data)
    for run_dir in run_dirs[1:]:  # the recorded splits themselves, whatever their configs say
        if not np.array_equal(Run(run_dir).read_test_split()["images"], np.rint(test.x[..., 0] * 255)):
            raise FERError(f"{run_dirs[0].name} and {run_dir.name} recorded different test splits; ensemble runs "
                           "tested on the same images")
    return test


def label_metrics(test, predicted, tta_predicted=None, tta="none"):
    """The test metrics of predicted class indices (plain and, with ``tta``, TTA) on ``test``, a
    HeldOutSplit: the plain fields, the TTA ones and those without the test images copied in Training."""
    classes = test.label_set.classes  # FER2013's for one-vs-rest members
    metrics = evaluation_fields(test.emotions, predicted, classes)
    as_scores = np.eye(len(classes))  # one-hot rows: extra_fields reads labels back by arg-max
    metrics.update(extra_fields(test.emotions, as_scores[predicted],
                                None if tta_predicted is None else as_scores[tta_predicted], tta, classes,
                                test.in_training))
    return metrics
