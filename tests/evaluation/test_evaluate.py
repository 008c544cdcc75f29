"""Evaluation: metrics on hand-computed cases, the inference-timing protocol, and end to end on runs
this module trains once (a tiny CNN on 1,200 synthetic faces): evaluate, results table, ensemble,
saliency — including that a trained model's saliency lies on the faces' mouth, eyes and brows."""

import dataclasses
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.errors import FERError
from fer_keras.evaluation.evaluate import (
    classification_metrics,
    evaluate_model_file,
    evaluate_run,
    predicted_labels,
    read_config,
    results_name,
    run_test_split,
    time_inference,
)
from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.registry import MODEL_BUILDERS
from fer_keras.data.pre_proc_data import to_model_input
from fer_keras.training.variants import VARIANTS

# the gradient methods need TensorFlow; occlusion runs on any backend
SALIENCY = "gradient" if keras.backend.backend() == "tensorflow" else "occlusion"

# --------------------------------------------------------------------------- metrics and timing


def test_classification_metrics_match_hand_computed_values():
    truth = [0, 0, 0, 1, 2, 2]
    predicted = [0, 0, 1, 1, 2, 0]
    found = classification_metrics(truth, predicted, ("a", "b", "c"))
    # a: precision 2/3, recall 2/3; b: 1/2, 1/1; c: 1/1, 1/2
    assert found["accuracy"] == pytest.approx(4 / 6)
    assert found["macro_precision"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert found["macro_recall"] == pytest.approx((2 / 3 + 1 + 1 / 2) / 3)
    f1 = {"a": 2 / 3, "b": 2 / 3, "c": 2 / 3}
    assert {k: v["f1"] for k, v in found["per_class"].items()} == pytest.approx(f1)
    assert found["weighted_precision"] == pytest.approx((3 * 2 / 3 + 1 * 1 / 2 + 2 * 1) / 6)
    assert found["weighted_recall"] == pytest.approx(4 / 6)  # weighted recall is accuracy
    assert [v["support"] for v in found["per_class"].values()] == [3, 1, 2]
    assert found["confusion_matrix"] == [[2, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert "weighted avg" in found["report"] and found["n"] == 6


def test_absent_classes_score_zero_and_binary_scores_use_threshold_half():
    found = classification_metrics([0, 0, 1], [0, 0, 0], ("rest", "happy"))
    assert found["per_class"]["happy"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert found["macro_recall"] == pytest.approx(0.5)
    np.testing.assert_array_equal(predicted_labels(np.array([[0.2], [0.5], [0.51]])), [0, 0, 1])
    np.testing.assert_array_equal(predicted_labels(np.array([[0.2, 0.8], [0.6, 0.4]])), [1, 0])
    with pytest.raises(FERError, match="one length"):
        classification_metrics([0, 1], [0], ("a", "b"))


def tiny_model(input_shape=(48, 48, 1), num_classes=7, binary=False, name="tiny_cnn"):
    """3 × [Conv 3×3 ReLU (16, 32, 64) → MaxPool] → Flatten → head: trains in seconds on two cores."""
    inputs = image_input(input_shape)
    x = inputs
    for i, filters in enumerate((16, 32, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{i}_conv")(x)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, binary), name=name)


def test_time_inference_returns_the_protocol_fields():
    x = np.zeros((40, 48, 48, 1), np.float32)
    timing = time_inference(tiny_model(), x, n_calls=3)
    assert {k: timing[k] for k in ("n_images", "batch_size", "n_calls")} == {
        "n_images": 40, "batch_size": 32, "n_calls": 3}
    assert timing["mean_s"] > 0 and timing["std_s"] >= 0
    assert timing["s_per_1000"] == pytest.approx(timing["mean_s"] * 1000 / 40)
    assert timing["images_per_s"] == pytest.approx(40 / timing["mean_s"])
    assert timing["backend"] == keras.backend.backend() and timing["device"] in ("CPU", "GPU")
    assert time_inference(tiny_model(), np.zeros((1200, 48, 48, 1), np.float32), n_calls=1)["n_images"] == 1000


def test_rebuilt_test_split_is_the_one_the_variant_prepares():
    """The honest protocol's test split is rebuilt by the data layer alone (cleaning + split, no
    balancing); it must equal the full preparation's. A LEAKY variant's exists only in its run."""
    from fer_keras.data.eda import clean
    from fer_keras.evaluation.evaluate import rebuild_test_split
    from fer_keras.data.pre_proc_data import pre_proc_binary
    from fer_keras.training.train import prepare
    from fer_keras.training.variants import get_variant

    data = generate(n_samples=1200, seed=3).data
    for name in ("cnn_lstm_v5_final", "cnn_lstm_v2_no_duplicates_smote"):
        _, prepared = prepare(get_variant(name), data, seed=1)
        rebuilt = rebuild_test_split(get_variant(name), data, seed=1)
        np.testing.assert_array_equal(rebuilt.x, prepared.x_test)
        np.testing.assert_array_equal(rebuilt.labels, prepared.labels_test)
        assert not rebuilt.leaky and rebuilt.in_training.shape == rebuilt.labels.shape
    with pytest.raises(FERError, match="LEAKY thesis protocol, whose test split is drawn after resampling"):
        rebuild_test_split(get_variant("cnn_lstm_v5_final_thesis_protocol"), data, seed=1)
    binary = get_variant("binary_happy_five_layer")
    prepared = pre_proc_binary(clean(data, binary.cleaning), "happy", binary.split, n_positive=60, n_per_negative=10)
    rebuilt = rebuild_test_split(binary, data)
    np.testing.assert_array_equal(rebuilt.x, prepared.x_test)
    np.testing.assert_array_equal(rebuilt.labels, prepared.labels_test)
    assert rebuilt.class_names == ("rest", "happy") and rebuilt.emotions.max() > 1


# --------------------------------------------------------------------------- end to end on trained runs


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two runs of a tiny CNN on 1,200 synthetic faces (written as a CSV), in-process: ``main`` (10
    epochs, no resampling) and ``other`` (3 epochs, class weights) — the same test split."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("evaluate")
    synthetic = generate(n_samples=1200, seed=0, return_masks=True)
    csv = write_csv(synthetic.data, root / "faces.csv")
    base = dataclasses.replace(VARIANTS["cnn_lstm_v5_final_none"], model="tiny_cnn", learning_rate=1e-3,
                               batch_size=16, reference="test")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        patch.setitem(MODEL_BUILDERS, "tiny_cnn", tiny_model)
        patch.setitem(VARIANTS, "tiny_test", dataclasses.replace(base, name="tiny_test"))
        patch.setitem(VARIANTS, "tiny_test_cw", dataclasses.replace(base, name="tiny_test_cw", sampling="class_weight"))
        runs = {}
        for key, variant, epochs in (("main", "tiny_test", 10), ("other", "tiny_test_cw", 3)):
            metrics = train(variant, str(csv), epochs=epochs, output_dir=root / "callbacks",
                            results_dir=root / "results", verbose=0)
            runs[key] = metrics
        yield {"root": root, "csv": csv, "synthetic": synthetic, "results": root / "results", **runs}


def run_dir(trained, key="main"):
    return Path(trained[key]["run_dir"])


@pytest.fixture(scope="module")
def evaluated(trained):
    return evaluate_run(run_dir(trained), results_dir=trained["results"], n_calls=3)


@pytest.mark.slow
def test_a_run_records_its_test_split_and_evaluation_reads_it_from_there(trained):
    from fer_keras.runs.folder import Run
    from fer_keras.training.train import prepare

    run = Run(run_dir(trained))
    recorded = run.read_test_split()
    variant = VARIANTS["cnn_lstm_v5_final_none"]
    _, prepared = prepare(variant, trained["synthetic"].data, seed=0)
    np.testing.assert_array_equal(to_model_input(recorded["images"]), prepared.x_test)
    np.testing.assert_array_equal(recorded["labels"], prepared.labels_test)
    assert len(recorded["ids"]) == len(recorded["images"]) and str(recorded["ids"][0]).startswith("line ")
    test, _ = run_test_split(run.path)
    np.testing.assert_array_equal(test.x, prepared.x_test)
    run.test_split.unlink()
    try:
        with pytest.raises(FERError, match="made before runs recorded their test split"):
            run_test_split(run.path)
    finally:
        run.write_test_split(**recorded)


def test_evaluate_run_writes_metrics_report_and_figures(trained, evaluated):
    out = trained["results"] / run_dir(trained).name
    for name in ("metrics.json", "report.md", "confusion_matrix.png", "curves.png", "config.json"):
        assert (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("seconds", "epochs_run", "best_epoch", "run_dir", "reference"):  # train's keys are kept
        assert saved[key] == trained["main"][key], key
    # the rebuilt test split and the best checkpoint reproduce train's own evaluation
    assert saved["test_accuracy"] == pytest.approx(trained["main"]["test_accuracy"])
    assert saved["n_test"] == trained["main"]["n_test"]
    assert sum(map(sum, saved["confusion_matrix"])) == saved["n_test"]
    assert saved["test_accuracy"] > 0.35  # 7 classes: chance is ~0.26 (the majority class)
    assert saved["inference"]["n_calls"] == 3 and saved["inference"]["n_images"] == saved["n_test"]
    assert read_config(out) == read_config(run_dir(trained))
    report = (out / "report.md").read_text()
    assert "![confusion matrix](confusion_matrix.png)" in report and "s per 1000 images" in report


def test_evaluate_cli_and_model_file(trained, tmp_path, capsys):
    from fer_keras.evaluation.evaluate import main

    assert main(["--run", str(run_dir(trained, "other")), "--results-dir", str(tmp_path), "--timing-calls", "0"]) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and str(tmp_path) in printed
    saved = json.loads((tmp_path / run_dir(trained, "other").name / "metrics.json").read_text())
    assert "inference" not in saved and saved["test_accuracy"] == pytest.approx(trained["other"]["test_accuracy"])

    # --model FILE --data PATH: the data's own test split (usage split, no cleaning) as is
    found = evaluate_model_file(run_dir(trained) / "best.keras", trained["csv"], results_dir=tmp_path / "file",
                                name="file_eval", n_calls=0)
    assert (tmp_path / "file" / "file_eval" / "report.md").exists()
    assert found["n_test"] >= trained["main"]["n_test"]  # nothing cleaned away
    assert results_name("callbacks/run1/best.keras", "data/fer2013.csv.gz") == "run1-on-fer2013"
    assert results_name("my_model.keras", "synthetic") == "my_model-on-synthetic"


def test_evaluate_reports_tta_beside_the_plain_numbers_and_the_test_without_train_copies(trained, tmp_path):
    found = evaluate_run(run_dir(trained), results_dir=tmp_path, n_calls=0, tta="flip")
    assert found["tta"] == "flip" and 0.2 < found["test_accuracy_tta"] <= 1
    assert found["test_accuracy"] == pytest.approx(trained["main"]["test_accuracy"])  # the plain number stays
    # a re-evaluation into another results folder keeps what training recorded (trained.json)
    assert found["train_cpu_minutes"] == trained["main"]["train_cpu_minutes"] and found["learned"] is not None
    # the synthetic set plants exact copies; cross-split ones were removed from training, not from the test split
    assert 0 < found["n_test_without_train_copies"] <= found["n_test"]
    report = (tmp_path / run_dir(trained).name / "report.md").read_text()
    assert "With test-time augmentation (flip)" in report and "without an exact copy" in report


def test_settings_are_chosen_on_the_validation_split_which_the_results_table_leaves_out(trained, tmp_path):
    from fer_keras.evaluation.evaluate import main
    from fer_keras.evaluation.results import collect

    model = run_dir(trained) / "best.keras"
    assert main(["--model", str(model), "--data", str(trained["csv"]), "--variant", "cnn_lstm_v5_final_none",
                 "--validation", "--tta", "flip", "--timing-calls", "0", "--results-dir", str(tmp_path)]) == 0
    (out,) = tmp_path.iterdir()
    assert out.name.endswith("-validation")
    saved = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert saved["split"] == "validation" and config["prepared"]["part"] == "val"
    assert saved["n_test"] != trained["main"]["n_test"] and "test_accuracy_tta" in saved
    assert collect(tmp_path) == []


def test_an_unknown_tta_mode_is_one_line_and_exit_2(trained, tmp_path, capsys):
    from fer_keras.evaluation.evaluate import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--run", str(run_dir(trained)), "--results-dir", str(tmp_path), "--tta", "rotate"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: unknown TTA mode 'rotate'; expected one of none, flip, crops"
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["text", "truncated", "wrong_shape"])
def test_a_damaged_or_foreign_model_is_one_line_and_exit_2(trained, tmp_path, capsys, damage):
    from fer_keras.evaluation.evaluate import main

    run = tmp_path / "run"
    shutil.copytree(run_dir(trained), run)
    best = run / "best.keras"
    if damage == "text":
        best.write_text("not a model\n")
    elif damage == "truncated":
        best.write_bytes(best.read_bytes()[:2000])
    else:
        tiny_model(input_shape=(64, 64, 3)).save(best)
    for args in (["--run", str(run)], ["--model", str(best), "--data", str(trained["csv"])]):
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--results-dir", str(tmp_path / "out"), "--timing-calls", "0"])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err.strip()
        assert len(error.splitlines()) == 1 and str(best) in error and "not found" not in error
        assert ("(64, 64, 3)" in error) if damage == "wrong_shape" else ("could not load model" in error)
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_data_that_is_not_the_runs(trained, tmp_path):
    other = write_csv(trained["synthetic"].data.subset(np.arange(1100)), tmp_path / "fewer.csv")
    with pytest.raises(FERError, match="fingerprint"):
        run_test_split(run_dir(trained), data=str(other))
    with pytest.raises(FERError, match="not a training run"):
        evaluate_run(tmp_path, results_dir=tmp_path)


def test_results_table_lists_the_evaluated_run(trained, evaluated):
    from fer_keras.evaluation.results import main

    assert main(["--results-dir", str(trained["results"])]) == 0
    readme = (trained["results"] / "README.md").read_text()
    name = run_dir(trained).name
    row = next(line for line in readme.splitlines() if line.startswith(f"| [{name}]"))
    assert f"({name}/report.md)" in row and f"[config]({name}/config.json)" in row
    assert "| honest |" in row and f"{100 * evaluated['test_accuracy']:.2f}" in row
    assert (trained["results"] / name / "config.json").exists()  # the link resolves
    table = pd.read_csv(trained["results"] / "results.csv")
    assert name in set(table["run"]) and run_dir(trained, "other").name in set(table["run"])


def test_results_table_shows_the_papers_figure_and_marks_leaky_runs(tmp_path):
    from fer_keras.evaluation.results import PAPER_RESULTS, write_tables

    assert PAPER_RESULTS["five_layer_balanced_filtered"]["accuracy"] == 71.43
    for name, variant, leaky in (("a", "five_layer_original", False), ("b", "attention_vit_thesis_protocol", True)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps(
            {"variant": variant, "test_accuracy": 0.5, "leaky": leaky, "protocol": "thesis" if leaky else "honest"}))
    (tmp_path / "eda").mkdir()  # a folder without metrics.json is no run
    rows, _ = write_tables(tmp_path)
    assert [r["run"] for r in rows] == ["b", "a"]
    readme = (tmp_path / "README.md").read_text()
    assert "| 67.69 |" in readme and "74.97 (leaky)" in readme and "**LEAKY**" in readme


@pytest.mark.parametrize("damage", [b"[1, 2]", b"\xff\xfe{", b'{"test_accuracy": NaN}', b'{"test_accuracy": "x"}',
                                    b'{"test_accuracy": 0.5, "variant": 5, "n_test": "many", "inference": [1]}',
                                    b"[" * 100_000])
def test_a_damaged_metrics_file_is_skipped_with_a_note(tmp_path, capsys, damage):
    from fer_keras.evaluation.results import main

    for name, raw in (("good", json.dumps({"variant": "five_layer_original", "test_accuracy": 0.5}).encode()),
                      ("bad", damage)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_bytes(raw)
        (tmp_path / name / "config.json").write_bytes(b"[1]" if name == "bad" else b"{}")
    assert main(["--results-dir", str(tmp_path)]) == 0
    assert "skipping" in capsys.readouterr().err
    readme = (tmp_path / "README.md").read_text()
    assert "five_layer_original" in readme and "| bad |" not in readme
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "bad", "good", "results.csv"]


def fake_run(folder, metrics, config):
    """A results folder holding only ``metrics.json`` and ``config.json``: what the tables read."""
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "config.json").write_text(json.dumps(config))


def test_zoo_table_lists_budgeted_real_data_runs_by_model_with_their_recipe_changes(tmp_path):
    from fer_keras.training.recipes import MODERN
    from fer_keras.evaluation.results import write_tables

    runs = {"lstm": ("cnn_lstm_first", "fer2013.csv.gz", 10, 0.05), "cnn": ("baseline_cnn", "fer2013.csv.gz", 30, 0.5),
            "demo": ("baseline_cnn", "synthetic(n=4000, seed=0)", 30, 0.5),
            "long": ("baseline_cnn", "fer2013.csv.gz", None, 0.5)}
    for name, (variant, data, budget, recall) in runs.items():
        fake_run(tmp_path / name,
                 {"variant": variant, "test_accuracy": 0.6, "test_macro_recall": recall, "data": data,
                  "protocol": "honest", "recipe": "modern", "time_budget_minutes": budget, "epochs_run": 7},
                 {"variant": {"name": variant, "model": variant}, "data": {"source": data, "fingerprint": "0"},
                  "recipe": {**MODERN.to_dict(), "weight_decay": 5e-4}})  # its variant, data and recipe
    write_tables(tmp_path)
    zoo = (tmp_path / "README.md").read_text().split("## The model zoo on FER2013")[1]
    rows = [line for line in zoo.splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[1] for row in rows] == ["[`baseline_cnn`](cnn)", "[`cnn_lstm_first`](lstm)"]
    assert "modern (weight_decay=0.0005)" in rows[0] and rows[1].endswith("| *did not learn* |")
    from fer_keras.training.recipes import MODERN_SGD
    from fer_keras.evaluation.results import _recipe_changes

    # a run from before the SGD form was renamed
    assert _recipe_changes({**MODERN_SGD.to_dict(), "name": "modern"}) == "= modern_sgd"
    assert "did not learn" not in rows[0]


def test_a_region_member_is_named_by_its_region_and_left_out_of_the_cpu_zoo_table(tmp_path):
    from fer_keras.evaluation.results import write_tables

    for name, kwargs in (("whole-face", {}), ("mouth", {"region": "mouth"})):
        fake_run(tmp_path / name,
                 {"variant": "cnn_lstm_first", "test_accuracy": 0.55, "test_macro_recall": 0.5,
                  "data": "fer2013.csv.gz", "protocol": "honest", "recipe": "modern", "time_budget_minutes": 7,
                  "epochs_run": 5},
                 {"size": "cpu", "model_kwargs": kwargs,
                  "variant": {"name": "cnn_lstm_first", "model": "cnn_lstm_first"},
                  "data": {"source": "fer2013.csv.gz", "fingerprint": "f"}})
    write_tables(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    cpu_zoo = readme.split("## The zoo at CPU size")[1].split("\n## ")[0]
    assert "](whole-face)" in cpu_zoo and "](mouth)" not in cpu_zoo
    assert "`cnn_lstm_first` on the mouth region" in readme


@pytest.mark.slow
def test_ensemble_of_two_runs_is_evaluated_and_tabulated(trained):
    from fer_keras.evaluation.ensemble import evaluate_ensemble
    from fer_keras.evaluation.evaluate import load_keras_model
    from fer_keras.evaluation.results import collect

    members = [run_dir(trained), run_dir(trained, "other")]
    metrics, out = evaluate_ensemble(members, "mean", results_dir=trained["results"], name="ens_mean", n_calls=2)
    test, _ = run_test_split(members[0])
    probs = [load_keras_model(m / "best.keras").predict(test.x, verbose=0) for m in members]
    expected = float(((probs[0] + probs[1]).argmax(axis=1) == test.labels).mean())
    assert metrics["test_accuracy"] == pytest.approx(expected)
    assert metrics["member_accuracy"][members[0].name] == pytest.approx(trained["main"]["test_accuracy"])
    assert metrics["inference"]["n_calls"] == 2 and (out / "confusion_matrix.png").exists()
    assert "ens_mean" in {r["run"] for r in collect(trained["results"])}
    voted, _ = evaluate_ensemble(members, "vote", weights=[2, 1], results_dir=trained["results"], name="ens_vote",
                                 n_calls=0)
    assert voted["test_accuracy"] == pytest.approx(trained["main"]["test_accuracy"])  # the heavier member decides


def test_greedy_selection_adds_members_while_the_validation_accuracy_rises():
    from fer_keras.evaluation.ensemble import select_members

    labels = np.array([0, 1, 2, 0])
    good = np.eye(3)[[0, 1, 2, 1]]  # 3 of 4 right
    good[3] = [0.0, 0.6, 0.4]
    fixes_last = np.eye(3)[[1, 2, 0, 0]] * 0.9 + np.eye(3)[[0, 1, 2, 0]] * 0.1  # wrong, but tips row 3 to class 0
    bad = np.eye(3)[[2, 2, 1, 2]]
    chosen, path = select_members([bad, good, fixes_last], labels)
    assert chosen == [1, 2] and path == [0.75, 1.0]  # the bad member would lower it: left out
    assert select_members([good, good.copy()], labels) == ([0], [0.75])  # no rise, no second member


@pytest.mark.slow
def test_ensemble_select_tests_only_the_members_chosen_on_validation(trained):
    from fer_keras.evaluation.ensemble import evaluate_ensemble
    from fer_keras.evaluation.evaluate import load_keras_model, rebuild_test_split, run_data, variant_from_config

    members = [run_dir(trained), run_dir(trained, "other")]
    metrics, out = evaluate_ensemble(members, "mean", results_dir=trained["results"], name="ens_select", n_calls=0,
                                     select=True)
    assert "by greedy forward selection on the validation split" in (out / "report.md").read_text()
    selection = metrics["member_selection"]
    config = read_config(members[0])
    val = rebuild_test_split(variant_from_config(config), run_data(config), part="val")
    single = {m.name: float((load_keras_model(m / "best.keras").predict(val.x, verbose=0).argmax(1) == val.labels
                             ).mean()) for m in members}
    assert selection["validation_accuracy_single"] == pytest.approx(single)
    assert selection["chosen"][0] == max(single, key=lambda name: (single[name], -list(single).index(name)))
    assert set(metrics["member_accuracy"]) == set(selection["chosen"]) == set(metrics["members"])
    assert selection["validation_accuracy_path"] == sorted(set(selection["validation_accuracy_path"]))  # rising
    with pytest.raises(FERError, match="--select chooses members of a probability average"):
        evaluate_ensemble(members, "vote", select=True)
    again, _ = evaluate_ensemble(members, "mean", results_dir=trained["results"], name="ens_select", n_calls=0)
    written = json.loads((out / "metrics.json").read_text())  # the name reused: nothing of the selection is left
    assert "member_selection" not in written and written["members"] == again["members"] == [m.name for m in members]


def test_ensemble_refuses_members_tested_on_different_splits(trained, tmp_path):
    from fer_keras.evaluation.ensemble import evaluate_ensemble, main

    odd = tmp_path / "odd_run"
    shutil.copytree(run_dir(trained, "other"), odd)
    config = json.loads((odd / "config.json").read_text())
    config["variant"]["cleaning"] = ["remove_duplicates"]
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(FERError, match="different test splits .*cleaning"):
        evaluate_ensemble([run_dir(trained), odd], "mean")
    with pytest.raises(FERError, match="seven binary runs"):
        evaluate_ensemble([run_dir(trained), run_dir(trained, "other")], "ovr")
    with pytest.raises(SystemExit) as exit_:
        main(["--members", str(run_dir(trained)), "--method", "mean"])
    assert exit_.value.code == 2


@pytest.mark.parametrize("module, args", [("evaluate", ["--run", "any"]), ("ensemble", ["--members", "any"])])
def test_negative_timing_calls_is_a_user_error(module, args, tmp_path, capsys):
    import importlib

    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"fer_keras.{module}").main(
            [*args, "--timing-calls", "-1", "--results-dir", str(tmp_path / "out")])
    assert exit_.value.code == 2 and not (tmp_path / "out").exists()
    assert capsys.readouterr().err.strip() == "error: --timing-calls must be 0 or more, got -1"


@pytest.mark.parametrize("args, message", [
    (["--snapshots", "any", "--select"], "--select chooses among --members for a probability average"),
    (["--members", "a", "b", "--method", "vote", "--select"], "--select chooses members of a probability average"),
])
def test_ensemble_select_in_the_wrong_place_is_one_line_and_exit_2(trained, args, message, tmp_path, capsys):
    from fer_keras.evaluation.ensemble import main

    if args[0] == "--members":  # two real runs, so the refusal is --select's, not a missing folder's
        args = ["--members", str(run_dir(trained)), str(run_dir(trained, "other")), *args[3:]]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--results-dir", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(error.splitlines()) == 1 and message in error
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_saliency_cli_writes_a_grid(trained, tmp_path):
    from fer_keras.evaluation.saliency import main

    out = tmp_path / run_dir(trained).name
    out.mkdir()
    (out / "metrics.json").write_text('{"test_accuracy": 0.5}')  # the run's evaluation, kept beside the grids
    (out / ".metrics.json.x1y2.json").write_text("{")  # a killed writer's temporary file, dropped
    for method in sorted({SALIENCY, "occlusion"}):
        args = ["--run", str(run_dir(trained)), "--n", "4", "--method", method, "--results-dir", str(tmp_path)]
        assert main(args) == 0
        assert (out / f"saliency_{method}.png").stat().st_size > 0
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", *sorted({f"saliency_{m}.png"
                                                                             for m in (SALIENCY, "occlusion")})]
    assert (out / "metrics.json").read_text() == '{"test_accuracy": 0.5}' and os.listdir(tmp_path) == [out.name]


def test_trained_model_saliency_lies_on_mouth_eyes_and_brows(trained):
    """On held-out synthetic faces the gradient saliency mass inside the generator's face-part masks
    (union of mouth, eyes, brows: ~13 % of the image) is about twice its area share (measured
    2.2–2.4 after 8–10 epochs; an untrained model of the same architecture: 1.1). Without TensorFlow
    the check uses occlusion sensitivity (measured 2.3 trained, 1.0 untrained)."""
    from fer_keras.evaluation.evaluate import load_keras_model
    from fer_keras.evaluation.saliency import mask_mass_ratio, saliency_maps

    synthetic = trained["synthetic"]
    rows = np.flatnonzero((synthetic.data.usage == "PrivateTest") & synthetic.masks.any(axis=(1, 2, 3)))[:100]
    x, labels = to_model_input(synthetic.data.images[rows]), synthetic.data.labels[rows]
    parts = synthetic.masks[rows].any(axis=1)
    model = load_keras_model(run_dir(trained) / "best.keras")
    ratio = mask_mass_ratio(saliency_maps(model, x, labels, SALIENCY), parts)
    keras.utils.set_random_seed(0)
    untrained = mask_mass_ratio(saliency_maps(tiny_model(), x, labels, SALIENCY), parts)
    print(f"saliency mass / area share inside face parts: trained {ratio:.2f}, untrained {untrained:.2f}")
    assert ratio > 1.6 and ratio > untrained + 0.5


def test_the_cpu_zoo_table_prints_the_preset_parameters_only_for_runs_of_todays_cpu_size(tmp_path):
    from fer_keras.evaluation.results import write_tables
    from fer_keras.models.presets import CPU_PRESETS

    preset = CPU_PRESETS["patch_vit"]
    for name, kwargs in (("today", dict(preset.model)), ("earlier", {"patch_size": 6})):
        fake_run(tmp_path / name,
                 {"variant": "patch_vit_trinh", "test_accuracy": 0.5, "test_macro_recall": 0.45,
                  "data": "fer2013.csv.gz", "protocol": "honest", "recipe": "modern", "time_budget_minutes": 20,
                  "epochs_run": 9},
                 {"size": "cpu", "model_kwargs": kwargs, "variant": {"name": "patch_vit_trinh", "model": "patch_vit"},
                  "data": {"source": "fer2013.csv.gz", "fingerprint": "f"}})
    write_tables(tmp_path)
    cpu_zoo = (tmp_path / "README.md").read_text().split("## The zoo at CPU size")[1].split("\n## ")[0]
    rows = {line.split("](")[1].split(")")[0]: line for line in cpu_zoo.splitlines() if line.startswith("| `")}
    assert f"| {preset.parameters:,} |" in rows["today"] and f"{preset.parameters:,}" not in rows["earlier"]
    assert rows["earlier"].split(" | ")[5] == "—"


def test_a_warm_start_counts_the_cpu_minutes_of_the_run_it_started_from(tmp_path):
    """``--init RUN`` continues RUN's training: the CPU-size zoo table prints the chain's CPU minutes, and
    only "≥ its own" when the start is not among the results."""
    from fer_keras.evaluation.results import collect, write_tables

    def run(name, minutes, init=None, resumed=()):
        fake_run(tmp_path / name,
                 {"variant": "resemotenet", "test_accuracy": 0.55, "test_macro_recall": 0.45, "data": "fer2013.csv.gz",
                  "protocol": "honest", "recipe": "modern", "time_budget_minutes": 20, "train_cpu_minutes": minutes},
                 {"size": "cpu", "variant": {"name": "resemotenet", "model": "resemotenet"},
                  "data": {"source": "fer2013.csv.gz", "fingerprint": "f"}, "resumed": list(resumed),
                  **({"init": {"from": f"/elsewhere/callbacks/{init}", "model_file": "best.keras"}} if init else {})})

    run("first", 24.0)
    run("second", 19.1, init="first")
    run("third", 10.0, init="second")
    run("orphan", 12.5, init="gone")
    run("killed", 5.0, resumed=["2026-12-06T11:00:00"])
    run("after_kill", 3.0, init="killed")
    run("loop", 1.0, init="loop")
    fake_run(tmp_path / "vote", {"variant": "ensemble_mean", "test_accuracy": 0.6, "data": "fer2013.csv.gz"},
             {"ensemble": {"members": ["first", "second"]}})  # an evaluation's record, not a RunConfig
    totals = {r["run"]: r["cpu_minutes_with_init"] for r in collect(tmp_path)}
    assert totals == {"first": 24.0, "second": 43.1, "third": 53.1, "orphan": None, "vote": None, "killed": 5.0,
                      "after_kill": 8.0, "loop": None}
    write_tables(tmp_path)
    cpu_zoo = (tmp_path / "README.md").read_text().split("## The zoo at CPU size")[1].split("\n## ")[0]
    rows = {line.split("](")[1].split(")")[0]: line.split(" | ") for line in cpu_zoo.splitlines()
            if line.startswith("| `")}
    assert rows["first"][6] == "24.0" and rows["second"][6] == "43.1 (24.0 + 19.1)"
    assert rows["third"][6] == "53.1 (43.1 + 10.0)" and rows["orphan"][6] == "≥ 12.5"
    assert "warm start from second" in rows["third"][8]
    assert rows["after_kill"][6] == "≥ 8.0 (5.0 + 3.0)" and rows["loop"][6] == "≥ 1.0"  # a lower bound; a loop
    zoo = (tmp_path / "README.md").read_text().split("## The model zoo on FER2013")[1].split("\n## ")[0]
    assert "| 43.1 (24.0 + 19.1) |" in zoo and "warm start from first" in zoo


def test_heads_that_share_a_warm_start_count_its_cpu_minutes_once():
    """Two heads began from one 10-CPU-minute run, a third from the second head: the vote costs 10 + 1 + 1 + 1."""
    from fer_keras.evaluation.results import add_warm_start_minutes, one_vs_rest_rows

    def row(run, minutes, init="", resumed=False, **fields):
        return {"run": run, "train_cpu_minutes": minutes, "init": init, "resumed": resumed, "size": "cpu",
                "family": "six_layer_cnn", "method": None, "members": [], "precision_policy": "mixed_bfloat16",
                "recipe": "modern", "recipe_changes": "", "model_kwargs": {}, **fields}

    rows = add_warm_start_minutes([row("start", 10.0), row("a", 1.0, "start"), row("b", 1.0, "start"),
                                   row("c", 1.0, "b", resumed=True), row("vote", None, method="ovr",
                                                                         members=["a", "b", "c"])])
    assert [r["cpu_minutes_with_init"] for r in rows[:4]] == [10.0, 11.0, 11.0, 12.0]
    (vote,) = one_vs_rest_rows(rows)
    assert vote["train_cpu_minutes"] == 13.0 and vote["resumed"]  # not 11 + 11 + 12 = 34
    rows[0]["train_cpu_minutes"] = None
    assert one_vs_rest_rows(rows)[0]["train_cpu_minutes"] is None


def test_one_vs_rest_heads_enter_the_cpu_zoo_table_as_their_seven_class_vote(tmp_path):
    """A binary head's accuracy is not a seven-class one: the CPU zoo table leaves the heads out and shows
    their ``ensemble --method ovr`` vote, with the heads' summed CPU minutes; the zoo table marks each head."""
    from fer_keras import EMOTIONS
    from fer_keras.evaluation.results import collect, one_vs_rest_rows, write_tables

    heads = []
    for i, emotion in enumerate(["sad", *EMOTIONS]):  # the first, a sad head that a second cycle starts from
        heads.append(f"binary_{emotion}_six_layer-{i}")
        init = {"init": {"from": "/elsewhere/callbacks/binary_sad_six_layer-0"}} if emotion == "sad" and i else {}
        fake_run(tmp_path / heads[-1],
                 {"variant": f"binary_{emotion}_six_layer", "test_accuracy": 0.85, "test_macro_recall": 0.8,
                  "data": "fer2013.csv.gz", "protocol": "honest", "recipe": "modern", "time_budget_minutes": 4,
                  "train_cpu_minutes": 4.0 + i / 10, "learned": False,  # training's check before the binary rule
                  "confusion_matrix": [[2646, 167], [367, 84]] if i != 1 else [[3220, 6], [38, 0]]},
                 {"size": "cpu", "variant": {"name": f"binary_{emotion}_six_layer", "model": "six_layer_cnn",
                                             "binary_emotion": emotion},
                  "precision_policy": "mixed_bfloat16", "data": {"source": "fer2013.csv.gz", "fingerprint": "f"},
                  **init})
    heads = heads[1:]  # the vote's heads: the sad head's second cycle with the six others
    fake_run(tmp_path / "ovr_six_layer", {"variant": "ensemble_ovr", "method": "ovr", "members": heads,
                                          "test_accuracy": 0.55, "test_macro_recall": 0.5, "data": "fer2013.csv.gz",
                                          "protocol": "honest"},
             {"ensemble": {"method": "ovr", "members": [f"callbacks/{h}" for h in heads]}})
    fake_run(tmp_path / "ovr_empty", {"variant": "ensemble_ovr", "method": "ovr", "members": [], "test_accuracy": 0.5,
                                      "data": "fer2013.csv.gz"}, {"ensemble": {"method": "ovr", "members": []}})
    fake_run(tmp_path / "ovr_odd", {"variant": "ensemble_ovr", "method": "ovr", "members": [1, None],
                                    "test_accuracy": 0.5, "data": "fer2013.csv.gz"}, {"ensemble": {"method": "ovr"}})
    (vote,) = one_vs_rest_rows(collect(tmp_path))  # the vote of no heads and of damaged names are left out
    assert vote["family"] == "one-vs-rest (7 × six_layer_cnn)"
    assert vote["train_cpu_minutes"] == 34.8  # the seven heads' 4.1 … 4.7 (sum 30.8) and the sad start's 4.0
    write_tables(tmp_path)
    readme = (tmp_path / "README.md").read_text()
    cpu_zoo = readme.split("## The zoo at CPU size")[1].split("\n## ")[0]
    rows = [line.split(" | ") for line in cpu_zoo.splitlines() if line.startswith("| `")]
    assert len(rows) == 1 and rows[0][0] == "| `one-vs-rest (7 × six_layer_cnn)`"
    assert rows[0][2] == "[55.00](ovr_six_layer)" and rows[0][6] == "34.8" and rows[0][7] == "bfloat16"
    zoo = readme.split("## The model zoo on FER2013")[1].split("\n## ")[0]
    heads_shown = [line for line in zoo.splitlines() if "binary: " in line]
    assert len(heads_shown) == 8 and sum("did not learn" in line for line in heads_shown) == 1  # the angry head
