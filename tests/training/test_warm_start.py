"""``--init RUN|packaged`` starts a run from a trained model's weights (issue 22: fine-tune the shipped
model for photos); ``--set distill_tta=flip`` teaches with the mean over each face and its mirror."""

import dataclasses
import json
import shutil
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
from fer_keras.training.variants import VARIANTS
from test_health import tiny  # (the same folder)


def wider(input_shape=(48, 48, 1), num_classes=7, binary=False, name="wider"):
    """``tiny`` with a 32-unit hidden layer: another architecture."""
    import keras
    from keras import layers

    x = inputs = keras.Input(input_shape)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x), name=name)


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A trained run, a run started from it at a learning rate too small to move it, and one started
    from scratch at that learning rate (both one epoch)."""
    from fer_keras.training.train import train

    root = tmp_path_factory.mktemp("warm")
    csv = write_csv(generate(n_samples=1400, seed=1).data, root / "faces.csv")
    base = dataclasses.replace(VARIANTS["baseline_cnn"], model="tiny_warm", cleaning=(), reference="test",
                               batch_size=32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_KERAS_CACHE", str(root / "cache"))
        patch.setitem(MODEL_BUILDERS, "tiny_warm", tiny)
        patch.setitem(MODEL_BUILDERS, "wider_warm", wider)
        patch.setitem(VARIANTS, "tiny_warm", dataclasses.replace(base, name="tiny_warm"))
        patch.setitem(VARIANTS, "wider_warm", dataclasses.replace(base, name="wider_warm", model="wider_warm"))
        common = {"data": str(csv), "output_dir": root / "callbacks", "results_dir": root / "results", "verbose": 0,
                  "precise_bn": "off"}
        still = ["learning_rate=1e-9"]
        trained = train("tiny_warm", epochs=8, **common)
        warm = train("tiny_warm", epochs=1, seed=1, init=trained["run_dir"], overrides=still, **common)
        cold = train("tiny_warm", epochs=1, seed=1, overrides=still, **common)
        flip = train("tiny_warm", epochs=1, seed=2, teachers=(trained["run_dir"],),
                     overrides=["distill_tta=flip"], **common)
        # Adam moves each weight by up to its learning rate per step: far in an epoch's ~30 steps; the average
        # (EMA, which Keras starts at the weights after the first step) stays within one step of the start
        moved = train("tiny_warm", epochs=1, seed=3, init=trained["run_dir"], overrides=["learning_rate=0.01"],
                      **common)
        averaged = train("tiny_warm", epochs=1, seed=3, init=trained["run_dir"], teachers=(trained["run_dir"],),
                         overrides=["learning_rate=0.01", "ema_momentum=0.99999", "distill_consistent=true"], **common)
        yield {"root": root, "csv": csv, "trained": trained, "warm": warm, "cold": cold, "flip": flip,
               "moved": moved, "averaged": averaged, "common": common}


@pytest.mark.slow
def test_a_warm_start_begins_where_its_model_ended(started):
    trained, warm, cold = started["trained"], started["warm"], started["cold"]
    assert trained["test_accuracy"] > 0.3  # (chance: 1/7)
    # (the weights stay; BatchNorm's moving statistics follow the one epoch's batches)
    assert warm["test_accuracy"] > trained["test_accuracy"] - 0.08
    assert cold["test_accuracy"] < trained["test_accuracy"] - 0.15
    config = json.loads((Path(warm["run_dir"]) / "config.json").read_text())
    best = Path(trained["run_dir"]) / "best.keras"
    assert config["init"] == {"from": str(trained["run_dir"]), "model_file": str(best)}
    assert json.loads((Path(cold["run_dir"]) / "config.json").read_text())["init"] is None


@pytest.mark.slow
def test_a_flip_teacher_caches_its_mirrored_mean_apart_and_records_it(started):
    caches = sorted(p.name for p in Path(started["trained"]["run_dir"]).glob("teacher_probabilities-*.npy"))
    assert len(caches) == 1 and caches[0].endswith("-flip.npy")  # (the consistent teacher caches nothing)
    probabilities = np.load(Path(started["trained"]["run_dir"]) / caches[0])
    assert probabilities.shape[1] == 7 and np.allclose(probabilities.sum(1), 1, atol=1e-3)
    config = json.loads((Path(started["flip"]["run_dir"]) / "config.json").read_text())
    assert config["teacher"]["tta"] == "flip" and config["recipe"]["distill_tta"] == "flip"


@pytest.mark.slow
def test_an_averaged_run_checkpoints_its_average_and_a_consistent_teacher_is_recorded(started):
    import keras

    def kernels(result):
        model = keras.models.load_model(Path(result["run_dir"]) / "best.keras")
        return [w.numpy() for w in model.trainable_weights]

    start, moved, averaged = (kernels(started[key]) for key in ("trained", "moved", "averaged"))
    assert max(np.abs(a - b).max() for a, b in zip(start, moved)) > 0.05  # the raw weights went far
    assert max(np.abs(a - b).max() for a, b in zip(start, averaged)) < 0.0125  # their average: one step
    config = json.loads((Path(started["averaged"]["run_dir"]) / "config.json").read_text())
    assert config["recipe"]["ema_momentum"] == 0.99999 and config["teacher"]["consistent"] is True
    assert "consistent" not in json.loads((Path(started["flip"]["run_dir"]) / "config.json").read_text())["teacher"]


@pytest.mark.slow
def test_a_start_of_another_architecture_leaky_or_missing_is_one_error(started, tmp_path):
    from fer_keras.training.train import train

    common = {**started["common"], "output_dir": tmp_path / "callbacks", "results_dir": tmp_path / "results"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(MODEL_BUILDERS, "wider_warm", wider)
        patch.setitem(VARIANTS, "wider_warm", dataclasses.replace(VARIANTS["baseline_cnn"], name="wider_warm",
                                                                  model="wider_warm", cleaning=(), batch_size=32))
        with pytest.raises(FERError, match="does not have the architecture of wider"):
            train("wider_warm", epochs=1, init=started["trained"]["run_dir"], **common)
    leaky = tmp_path / "leaky"
    shutil.copytree(started["trained"]["run_dir"], leaky)
    config = json.loads((leaky / "config.json").read_text())
    config["prepared"]["leaky"] = True
    (leaky / "config.json").write_text(json.dumps(config))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(MODEL_BUILDERS, "tiny_warm", tiny)
        patch.setitem(VARIANTS, "tiny_warm", dataclasses.replace(VARIANTS["baseline_cnn"], name="tiny_warm",
                                                                 model="tiny_warm", cleaning=(), batch_size=32))
        with pytest.raises(FERError, match="--init .* is a LEAKY run"):
            train("tiny_warm", epochs=1, init=leaky, **common)


def test_a_consistent_teacher_without_a_teacher_is_one_line_and_writes_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fer_keras.train", "--variant", "baseline_cnn", "--set", "distill_consistent=true",
         "--output-dir", str(tmp_path / "callbacks"), "--results-dir", str(tmp_path / "results")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--teacher" in result.stderr and not (tmp_path / "callbacks").exists()


def test_an_averaged_runs_commit_holds_its_raw_weights(tmp_path):
    """The epoch's commit (the backup a resumed run starts from) keeps the weights training goes on from, not
    the averaged ones swapped in for the checkpoint."""
    import keras

    from fer_keras.runs.folder import Run
    from fer_keras.training.callbacks import committed_backup

    class RawWeights(keras.callbacks.Callback):
        """Between the swap and the commit: the model holds the averaged weights, the averages the raw ones.
        Stops after the second of three epochs (the last one's averages are overwritten by the average)."""

        def on_epoch_end(self, epoch, logs=None):
            self.raw = [v.numpy().copy() for v in self.model.optimizer._model_variables_moving_average]
            self.averaged = [w.copy() for w in self.model.get_weights()]
            self.model.stop_training = epoch == 1

    def model():
        inputs = keras.Input((4,))
        built = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
        built.compile(optimizer=keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.99),
                      loss="categorical_crossentropy")
        return built

    rng = np.random.default_rng(0)
    x, y = rng.random((64, 4), dtype=np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]
    run = Run(tmp_path / "run")
    run.path.mkdir()
    swap, raw = keras.callbacks.SwapEMAWeights(swap_on_epoch=True), RawWeights()
    trained = model()
    trained.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[swap, raw, committed_backup(run, ema=swap)])
    assert run.committed_state().epochs == 2
    restored = model()
    restored.optimizer.build(restored.trainable_variables)
    restored.load_weights(run.committed_state().weights)
    for got, want, average in zip(restored.get_weights(), raw.raw, raw.averaged):
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert not np.allclose(got, average, atol=1e-3)  # (the averaged weights differ: the test can tell)


def test_init_of_a_missing_run_is_one_line_and_writes_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fer_keras.train", "--variant", "baseline_cnn", "--init", str(tmp_path / "nowhere"),
         "--output-dir", str(tmp_path / "callbacks"), "--results-dir", str(tmp_path / "results")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "nowhere" in result.stderr and not (tmp_path / "callbacks").exists() and not (tmp_path / "results").exists()


@pytest.mark.slow
def test_the_shipped_model_is_a_start_only_for_its_own_data_and_split(started):
    from fer_keras.data import load
    from fer_keras.training.warm_start import warm_start
    from fer_keras.training.train import prepare

    dataset = load(str(started["csv"]))
    _, prepared = prepare(VARIANTS["fernet_s"], dataset, seed=0)
    with pytest.raises(FERError, match="--init packaged: the shipped FERNet-S was trained on FER2013"):
        warm_start("packaged", prepared, dataset, VARIANTS["fernet_s"])
    assert warm_start(None, prepared, dataset, VARIANTS["fernet_s"]) is None


def test_a_start_fills_a_training_model_with_auxiliary_heads_which_start_fresh(tmp_path):
    """A run saves its one-output model (GoogLeNet's auxiliary heads are for training only): a warm start
    puts those weights into the training model and leaves its auxiliary head as built."""
    import keras
    from keras import layers

    from fer_keras.models.blocks import AUX_OUTPUTS, MAIN_OUTPUT
    from fer_keras.models.registry import inference_model
    from fer_keras.training.warm_start import WarmStart

    def with_aux(seed):
        keras.utils.set_random_seed(seed)
        x = inputs = keras.Input((12, 12, 1))
        x = layers.Conv2D(4, 3, activation="relu", name="conv")(x)
        pooled = layers.GlobalAveragePooling2D()(x)
        main = layers.Dense(7, activation="softmax", name=MAIN_OUTPUT)(pooled)
        aux = layers.Dense(7, activation="softmax", name=AUX_OUTPUTS[0])(pooled)
        return keras.Model(inputs, [main, aux], name="aux_net")

    trained, fresh = with_aux(1), with_aux(2)
    aux_before = [w.copy() for w in fresh.get_layer(AUX_OUTPUTS[0]).get_weights()]
    inference_model(trained).save(tmp_path / "best.keras")
    WarmStart("run", tmp_path / "best.keras").load_into(fresh)
    for name in ("conv", MAIN_OUTPUT):
        for got, want in zip(fresh.get_layer(name).get_weights(), trained.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)
    for got, want in zip(fresh.get_layer(AUX_OUTPUTS[0]).get_weights(), aux_before):
        np.testing.assert_array_equal(got, want)
