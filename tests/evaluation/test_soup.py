"""``python -m fer_keras.soup``: a greedy model soup (Wortsman et al. 2022) of runs fine-tuned from one start,
chosen on the validation split and written as a run folder that ``evaluate --run`` takes."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from fer_keras.data.io import write_csv
from fer_keras.data.synthetic import generate
from fer_keras.errors import FERError
from fer_keras.models.registry import MODEL_BUILDERS
from fer_keras.evaluation.soup import average_weights, greedy_soup
from fer_keras.training.variants import VARIANTS


def tiny(input_shape=(48, 48, 1), num_classes=7, binary=False, name="tiny_soup"):
    """3 × [Conv 3×3 ReLU (16, 32, 64) → MaxPool] (a BatchNorm after the second, whose moving statistics are
    averaged too) → Dense 16 ReLU → softmax."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.BatchNormalization()(x) if filters == 32 else x
        x = layers.MaxPooling2D(2)(x)
    x = layers.Dense(16, activation="relu")(layers.Flatten()(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x), name=name)


def test_weights_average_element_wise_and_other_shapes_are_refused():
    a = [np.zeros((2, 2), np.float32), np.ones(3, np.float32)]
    b = [np.full((2, 2), 2, np.float32), np.full(3, 3, np.float32)]
    mean = average_weights([a, b])
    np.testing.assert_array_equal(mean[0], np.ones((2, 2)))
    np.testing.assert_array_equal(mean[1], np.full(3, 2))
    assert mean[0].dtype == np.float32
    with pytest.raises(FERError, match="different architectures"):
        average_weights([a, [np.zeros((2, 3), np.float32), np.ones(3, np.float32)]])


def test_the_greedy_soup_adds_by_score_and_keeps_only_what_does_not_hurt():
    # one weight each; the score peaks at 1.0 — the average of 0.8 and 1.2 is best, adding 3.0 hurts
    ingredients = [[np.array([3.0])], [np.array([0.8])], [np.array([1.2])]]

    def score(weights):
        return -abs(float(weights[0][0]) - 1.0)

    chosen, alone, path = greedy_soup(ingredients, score)
    assert chosen == [1, 2]  # 0.8 and 1.2 tie alone (order kept); 3.0 last, refused
    assert alone == pytest.approx([-2.0, -0.2, -0.2])
    assert [(i, kept) for i, _, kept in path] == [(1, True), (2, True), (0, False)]
    assert path[1][1] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def fine_tunes(tmp_path_factory):
    """A trained tiny run and two one-epoch fine-tunes of it (other seeds)."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("soup")
    csv = write_csv(generate(n_samples=1400, seed=1).data, root / "faces.csv")
    variant = dataclasses.replace(VARIANTS["baseline_cnn"], name="tiny_soup", model="tiny_soup", cleaning=(),
                                  reference="test", batch_size=32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        patch.setitem(MODEL_BUILDERS, "tiny_soup", tiny)
        patch.setitem(VARIANTS, "tiny_soup", variant)
        common = {"data": str(csv), "output_dir": root / "callbacks", "results_dir": root / "results", "verbose": 0,
                  "precise_bn": "off"}
        start = train("tiny_soup", epochs=6, **common)
        tunes = [train("tiny_soup", epochs=1, seed=seed, init=start["run_dir"], overrides=["learning_rate=3e-4"],
                       **common) for seed in (1, 2)]
        yield {"root": root, "start": start, "tunes": tunes}


@pytest.mark.slow
def test_a_soup_is_a_run_folder_of_the_averaged_weights_that_evaluate_takes(fine_tunes, tmp_path):
    import keras

    from fer_keras.evaluation.evaluate import evaluate_run
    from fer_keras.evaluation.soup import make_soup

    runs = [t["run_dir"] for t in fine_tunes["tunes"]]
    out, record = make_soup(runs, tmp_path / "callbacks", "soup_test", uniform=True)
    assert sorted(p.name for p in out.iterdir()) == ["best.keras", "config.json", "soup.json", "test_split.npz",
                                                     "trained.json", "val_split.npz"]
    assert json.loads((out / "soup.json").read_text()) == json.loads(json.dumps(record))
    assert set(record["validation_accuracy_single"]) == {Path(r).name for r in runs}
    members = [Path(m) for m in record["members"]]
    assert len(members) == 2 and record["rule"].startswith("uniform")
    expected = average_weights([keras.models.load_model(m / "best.keras").get_weights() for m in members])
    for got, want in zip(keras.models.load_model(out / "best.keras").get_weights(), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    metrics = evaluate_run(out, results_dir=tmp_path / "results", n_calls=0)
    assert metrics["test_accuracy"] > 0.3  # chance: 1/7
    assert metrics["method"] == "soup" and metrics["members"] == [m.name for m in members]  # the tables' fields
    with pytest.raises(FERError, match="exists already"):
        make_soup(runs, tmp_path / "callbacks", "soup_test")
    greedy, chosen = make_soup([fine_tunes["start"]["run_dir"], *runs], tmp_path / "callbacks", "greedy")
    path = chosen["validation_accuracy_path"]
    assert [p["run"] for p in path if p["kept"]] == [Path(m).name for m in chosen["members"]]
    assert max(chosen["validation_accuracy_single"].values()) == path[0]["soup"]  # the best run first
    assert all(p["soup"] >= path[0]["soup"] for p in path if p["kept"])  # kept only if not worse


@pytest.mark.slow
def test_the_soup_command_names_bad_members_in_one_line(fine_tunes, tmp_path):
    run = str(fine_tunes["tunes"][0]["run_dir"])
    other = str(fine_tunes["tunes"][1]["run_dir"])
    for members, extra, message in (([run], [], "two runs or more"), ([run, run], [], "listed twice"),
                                    ([run, str(tmp_path / "nowhere")], [], "nowhere"),
                                    ([run, other], ["--name", "../up"], "plain folder name")):
        result = subprocess.run([sys.executable, "-m", "fer_keras.soup", "--members", *members, *extra,
                                 "--output-dir", str(tmp_path / "callbacks")],
                                cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert message in result.stderr and not (tmp_path / "callbacks").exists()


@pytest.mark.slow
def test_packaged_joins_a_soup_of_its_fine_tunes_and_other_data_is_refused(fine_tunes, tmp_path, monkeypatch):
    """``--members packaged …``: the shipped model (here the tunes' start, standing in for it) is an ingredient,
    its CPU minutes the card's; a card of other data is one error and nothing is written."""
    import keras

    from fer_keras.evaluation.evaluate import read_config
    from fer_keras.evaluation.soup import make_soup
    from fer_keras.models import pretrained

    tune = fine_tunes["tunes"][0]["run_dir"]
    start = Path(fine_tunes["start"]["run_dir"]) / "best.keras"
    card = {"data_fingerprint": read_config(tune).data.fingerprint, "train_cpu_minutes": 1.5}
    monkeypatch.setattr(pretrained, "DEFAULT_MODEL", start)
    monkeypatch.setattr(pretrained, "model_card", lambda: card)
    out, record = make_soup([tune, "packaged"], tmp_path / "callbacks", "with_packaged", uniform=True)
    assert [Path(m).name for m in record["members"]] == [Path(tune).name, "packaged"]
    trained = json.loads((out / "trained.json").read_text())
    assert trained["members"] == [Path(tune).name, "packaged"]
    own = json.loads((Path(tune) / "trained.json").read_text())["train_cpu_minutes"]
    assert trained["train_cpu_minutes"] == pytest.approx(own + 1.5, abs=0.01)
    expected = average_weights([keras.models.load_model(p).get_weights() for p in (Path(tune) / "best.keras", start)])
    for got, want in zip(keras.models.load_model(out / "best.keras").get_weights(), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)
    assert (out / "config.json").read_bytes() == (Path(tune) / "config.json").read_bytes()
    # greedy, with packaged the best alone (the trained start against one-epoch tunes) or not: the folder's
    # config and splits come from a run, whatever is kept
    greedy, chosen = make_soup([tune, "packaged"], tmp_path / "callbacks", "greedy_packaged")
    assert chosen["validation_accuracy_path"][0]["soup"] == max(chosen["validation_accuracy_single"].values())
    assert sorted(p.name for p in greedy.iterdir()) == ["best.keras", "config.json", "soup.json", "test_split.npz",
                                                        "trained.json", "val_split.npz"]
    for members, message in (([tune, "packaged", "packaged"], "lists packaged twice"),
                             (["packaged", "packaged"], "lists packaged twice")):
        with pytest.raises(FERError, match=message):
            make_soup(members, tmp_path / "callbacks", "refused")
    card["data_fingerprint"] = "0123456789abcdef"
    with pytest.raises(FERError, match="--members packaged: the shipped FERNet-S was trained on FER2013"):
        make_soup([tune, "packaged"], tmp_path / "callbacks", "refused")
    assert not (tmp_path / "callbacks" / "refused").exists()
