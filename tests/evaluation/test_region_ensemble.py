"""The region vote of trained runs against their whole-face vote (``python -m fer_keras.ensemble
--regions``) on a baseline CNN trained for one epoch on 300 synthetic faces and on copies of its run
holding other models: both votes' files and numbers, the choice on the validation split, and bad
input (one line, exit 2, nothing written)."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from fer_keras.data.io import load_csv, write_csv
from fer_keras.data.synthetic import generate
from fer_keras.evaluation.evaluate import load_keras_model, rebuild_test_split, variant_from_config
from fer_keras.models.combine import majority_vote
from fer_keras.evaluation.region_vote import compare_region_vote
from fer_keras.data.regions import VOTE_REGIONS
from fer_keras.evaluation.region_vote import region_vote
from fer_keras.runs.folder import Run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A one-epoch baseline_cnn run."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("region_vote")
    csv = write_csv(generate(n_samples=300, seed=0).data, root / "faces.csv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        run = Path(train("baseline_cnn", str(csv), epochs=1, output_dir=root / "callbacks",
                         results_dir=root / "trained", verbose=0)["run_dir"])
    return {"run": run, "csv": csv}


def accuracy(labels, truth):
    return float((np.asarray(labels) == truth).mean())


def brightness_model(shift=0.0):
    """Seven classes by the image's mean grey m: class k's logit is -50·(m - c_k)² (up to a constant),
    c_k = (k + ½)/7 + ``shift``, so the nearest of seven brightness bins wins — and a darker eye crop
    votes otherwise than its face."""
    centres = (np.arange(7) + 0.5) / 7 + shift
    inputs = keras.Input((48, 48, 1))
    dense = keras.layers.Dense(7, activation="softmax")
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(inputs)), name="brightness")
    dense.set_weights([100 * centres[None, :].astype("float32"), (-50 * centres ** 2).astype("float32")])
    return model


@pytest.mark.slow
def test_both_votes_are_written_and_the_choice_is_made_on_the_validation_split(runs, tmp_path):
    members = [replaced_model(runs, tmp_path, brightness_model(shift), f"bright{shift}") for shift in (0, 0.04)]
    written = compare_region_vote(members, VOTE_REGIONS, results_dir=tmp_path / "results", name="rv", n_calls=2)
    folders = {vote: out.name for vote, (_, out) in written.items()}
    assert folders == {"region_vote": "rv", "whole_face_vote": "rv-whole_face"}
    recorded = Run(runs["run"]).read_test_split()
    models = [load_keras_model(Run(d).best) for d in members]
    region_labels = region_vote(models, recorded["images"], VOTE_REGIONS).labels
    assert (region_labels != region_vote(models, recorded["images"], ("whole",)).labels).any()  # the votes differ
    config = Run(runs["run"]).read_config()
    val = rebuild_test_split(variant_from_config(config), load_csv(runs["csv"]), part="val")
    val_faces = np.rint(val.x[..., 0] * 255).astype(np.uint8)
    whole_by_hand = majority_vote([m.predict(recorded["images"][..., None] / 255, verbose=0) for m in models])
    expected = {"region_vote": VOTE_REGIONS, "whole_face_vote": ("whole",)}
    for vote, (metrics, out) in written.items():
        for name in ("metrics.json", "report.md", "confusion_matrix.png", "config.json"):
            assert (out / name).stat().st_size > 0, (vote, name)
        assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == metrics["test_accuracy"]
        test_labels = region_vote(models, recorded["images"], expected[vote]).labels
        assert metrics["test_accuracy"] == pytest.approx(accuracy(test_labels, recorded["labels"]))
        assert metrics["n_test"] == len(recorded["labels"]) > 0 and metrics["regions"] == list(expected[vote])
        assert metrics["validation_accuracy"] == pytest.approx(
            accuracy(region_vote(models, val_faces, expected[vote]).labels, val.labels))
        assert sorted(metrics["member_accuracy"]) == sorted(d.name for d in members)
    regions, whole = written["region_vote"][0], written["whole_face_vote"][0]
    np.testing.assert_array_equal(region_vote(models, recorded["images"], ("whole",)).labels, whole_by_hand)
    assert whole["test_accuracy"] == pytest.approx(accuracy(whole_by_hand, recorded["labels"]))
    comparison = regions["comparison"]
    assert comparison == whole["comparison"] and comparison["n_validation"] == len(val.labels) > 0
    assert comparison["selected"] == ("region_vote" if regions["validation_accuracy"] > whole["validation_accuracy"]
                                      else "whole_face_vote")
    assert whole["inference"]["n_calls"] == 2 and "inference" not in regions
    report = (written["region_vote"][1] / "report.md").read_text()
    assert "## Region vote against whole-face vote" in report and f"**{comparison['selected']}**" in report
    assert "**regions**: left_eye, right_eye, nose, mouth, rest, whole" in report
    assert f"| whole_face_vote | whole | {whole['validation_accuracy']:.2%} | {whole['test_accuracy']:.2%} |" in report


def test_region_vote_cli_takes_one_run_and_prints_what_it_wrote(runs, tmp_path, capsys):
    from fer_keras.evaluation.ensemble import main
    from fer_keras.evaluation.results import collect

    assert main(["--members", str(runs["run"]), "--regions", " mouth, whole ", "--name", "one",
                 "--results-dir", str(tmp_path), "--timing-calls", "0"]) == 0
    printed = capsys.readouterr().out
    assert "region_vote (mouth, whole): validation accuracy" in printed and "chosen on the validation split" in printed
    assert f"wrote {tmp_path / 'one'}/" in printed and f"wrote {tmp_path / 'one-whole_face'}/" in printed
    rows = {row["run"]: row for row in collect(tmp_path)}
    assert {rows["one"]["variant"], rows["one-whole_face"]["variant"]} == {"region_vote", "whole_face_vote"}
    saved = json.loads((tmp_path / "one" / "config.json").read_text())
    assert saved["region_vote"]["regions"] == ["mouth", "whole"] and list(saved["members"]) == [runs["run"].name]


def replaced_model(runs, folder, model, name="odd_run"):
    """A copy of the first run, called ``name``, whose best.keras is ``model``."""
    copy = folder / name
    shutil.copytree(runs["run"], copy)
    model.save(copy / "best.keras")
    return copy


def dense_model(input_side, classes):
    return keras.Sequential([keras.Input((input_side, input_side, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(classes, activation="softmax")], name="dense")


@pytest.mark.parametrize("case, args, message", [
    ("region", ["--regions", "whole,chin"],
     "unknown face region 'chin'; expected some of left_eye, right_eye, nose, mouth, rest, whole"),
    ("region", ["--regions", "mouth,nose,mouth"], "face region 'mouth' is listed twice in --regions"),
    ("region", ["--regions", "whole"], "--regions whole alone is the whole-face vote itself; add some of left_eye"),
    ("region", ["--regions", "whole,mouth", "--weights", "2", "1"], "--regions evaluates an unweighted majority"),
    ("region", ["--regions", "whole,mouth", "--method", "mean"], "--regions evaluates an unweighted majority"),
    ("classes", ["--regions", "whole,mouth"],
     "region_vote needs softmax models with the same number of classes (at least 2), got {run}: 7, odd_run: 3"),
    ("input", ["--regions", "whole,mouth"],
     "model {odd}/best.keras takes input (64, 64, 1); fer_keras feeds 48×48×1 grey faces"),
])
def test_bad_region_vote_input_is_one_line_exit_2_and_writes_nothing(runs, tmp_path, capsys, case, args, message):
    from fer_keras.evaluation.ensemble import main

    members = [str(runs["run"])]
    odd = None
    if case == "classes":
        odd = replaced_model(runs, tmp_path, dense_model(48, 3))
    elif case == "input":
        odd = replaced_model(runs, tmp_path, dense_model(64, 7))
    if odd is not None:
        members = [members[0], str(odd)]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["--members", *members, *args, "--results-dir", str(tmp_path / "out"), "--timing-calls", "0"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and not (tmp_path / "out").exists()
    assert err.startswith("error: " + message.format(run=runs["run"].name, odd=odd)) and err.count("\n") == 1
