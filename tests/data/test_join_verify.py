"""Row-aligned label files verify their join (issue 25 item 6): FER+'s fer2013new.csv is joined to
fer2013.csv row by row, so its majority labels must agree with FER2013's well above chance and its
Usage column with FER2013's — a re-ordered fer2013.csv is refused in one line naming both files."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fer_keras.data import load, write_csv
from fer_keras.data.container import make_fer_data
from fer_keras.data.datasets import (JOIN_MIN_COMPARED, JOIN_MIN_LABEL_AGREEMENT, JOIN_MIN_USAGE_AGREEMENT,
                                     join_agreement)
from fer_keras.errors import FERDataError
from fer_keras.data.labelsets import FER2013, FERPLUS

from conftest import REPO, random_images

FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
FER2013_SHARES = [0.138, 0.015, 0.143, 0.250, 0.169, 0.111, 0.174]  # Kaggle FER2013's class shares
USAGE = np.array(["Training"] * 8 + ["PublicTest", "PrivateTest"], dtype=object)


def ferplus_pair(root, n=600, relabelled=0.3, seed=0):
    """fer2013.csv with ``n`` rows in FER2013's class shares and its fer2013new.csv: each face gets 10
    votes for its FER2013 emotion, except a ``relabelled`` share that FER+ re-labels (another emotion,
    contempt, or unknown / not a face), as the real FER+ does. Returns the FERData written."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(7, size=n, p=np.array(FER2013_SHARES) / sum(FER2013_SHARES))
    data = make_fer_data(random_images(n, seed=seed), labels, USAGE[np.arange(n) % len(USAGE)])
    rows = []
    for i, label in enumerate(labels):
        votes = [0] * 10
        column = FERPLUS.label_of(FER2013.classes[label])
        if rng.random() < relabelled:
            column = int(rng.choice([k for k in range(10) if k != column]))
        votes[column] = 10
        rows.append(f"{data.usage[i]},fer{i:07d}.png,{','.join(map(str, votes))}")
    root.mkdir(parents=True, exist_ok=True)
    write_csv(data, root / "fer2013.csv")
    (root / "fer2013new.csv").write_text("\n".join([FERPLUS_HEADER, *rows]) + "\n")
    return data


def reorder(data, order, root):
    """Rewrite fer2013.csv with its rows in ``order`` (its FER+ file left as it was)."""
    write_csv(data.subset(order), root / "fer2013.csv")


def test_a_correct_join_passes_and_says_how_well_it_lines_up(tmp_path):
    ferplus_pair(tmp_path)
    data = load(tmp_path / "fer2013new.csv", cache=False)
    assert data.label_set is FERPLUS
    note = data.notes[-1]
    assert "rows line up: majority labels agree with FER2013's on" in note and "Usage agrees on 100%" in note


def test_a_reordered_fer2013_is_refused_naming_both_files(tmp_path):
    data = ferplus_pair(tmp_path)
    reorder(data, np.random.default_rng(1).permutation(len(data)), tmp_path)
    with pytest.raises(FERDataError) as caught:
        load(tmp_path / "fer2013new.csv", cache=False)
    message = str(caught.value)
    assert "\n" not in message and "the rows do not line up" in message
    assert str(tmp_path / "fer2013new.csv") in message and str(tmp_path / "fer2013.csv") in message
    assert "labels agree with fer2013's on" in message and "Usage agrees on" in message


def test_reordered_within_each_split_keeps_usage_but_the_labels_give_it_away(tmp_path):
    """The shared fer2013.csv.gz kind of re-ordering: every Usage still matches, only labels can tell."""
    data = ferplus_pair(tmp_path)
    rng = np.random.default_rng(2)
    order = np.arange(len(data))
    for split in ("Training", "PublicTest", "PrivateTest"):
        rows = np.flatnonzero(data.usage == split)
        order[rows] = rng.permutation(rows)
    reorder(data, order, tmp_path)
    with pytest.raises(FERDataError, match="the rows do not line up — its ferplus labels agree with fer2013's on "
                       r"\d+% of [\d,]+ rows \(chance: \d+%") as caught:
        load(tmp_path / "fer2013new.csv", cache=False)
    assert "Usage agrees" not in str(caught.value)


def test_a_small_file_is_checked_on_usage_only(tmp_path):
    data = ferplus_pair(tmp_path, n=20)
    assert "labels not checked" in load(tmp_path / "fer2013new.csv", cache=False).notes[-1]
    reorder(data, np.roll(np.arange(len(data)), 1), tmp_path)  # Usage Training,…,PrivateTest shifted by one row
    with pytest.raises(FERDataError, match="the rows do not line up — its Usage agrees on"):
        load(tmp_path / "fer2013new.csv", cache=False)


@pytest.mark.parametrize("relabelled", [0.0, 0.3, 0.45])
def test_the_threshold_lies_between_a_correct_join_and_a_shuffled_one(tmp_path, relabelled):
    """Correct joins (FER+ re-labelling up to 45 % of faces) stay above the threshold; the same files
    shuffled fall to chance (~20 %), below it — with the margin the minimum row count gives."""
    data = ferplus_pair(tmp_path, n=2000, relabelled=relabelled, seed=3)
    votes = np.loadtxt(tmp_path / "fer2013new.csv", delimiter=",", skiprows=1, usecols=range(2, 12))
    winner = np.where(votes.max(axis=1) > 0, votes.argmax(axis=1), -1)
    winner = np.where(winner < FERPLUS.num_classes, winner, -1)
    usage = np.array(data.usage)
    correct = join_agreement(FERPLUS, winner, usage, data)
    shuffled = join_agreement(FERPLUS, winner, usage, data.subset(np.random.default_rng(4).permutation(len(data))))
    assert correct["usage"] == 1.0 >= JOIN_MIN_USAGE_AGREEMENT > shuffled["usage"]
    assert correct["labels"] > JOIN_MIN_LABEL_AGREEMENT + 0.1 and correct["compared"] >= JOIN_MIN_COMPARED
    assert shuffled["labels"] < JOIN_MIN_LABEL_AGREEMENT - 0.1
    assert shuffled["labels"] == pytest.approx(shuffled["chance"], abs=0.04)


def test_data_info_on_a_reordered_fer2013_exits_2_with_one_line_and_writes_nothing(tmp_path, tmp_path_factory):
    """The issue's done-when: fer2013new.csv beside a re-ordered fer2013.csv."""
    data = ferplus_pair(tmp_path)
    reorder(data, np.random.default_rng(5).permutation(len(data)), tmp_path)
    before = sorted(tmp_path.rglob("*"))
    cache = tmp_path_factory.mktemp("cache")
    done = subprocess.run([sys.executable, "-m", "fer_keras.data", "info", "--data", "fer2013new.csv"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FER_KERAS_CACHE": str(cache), "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and done.stdout == "", done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "the rows do not line up" in lines[0], done.stderr
    assert "fer2013new.csv and " in lines[0] and "fer2013.csv:" in lines[0]
    assert sorted(tmp_path.rglob("*")) == before
