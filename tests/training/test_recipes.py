"""Training recipes, the planned learning-rate schedule, the time budget, crop/flip augmentation, TTA."""

import json
import time

import keras
import numpy as np
import pytest

from fer_keras.data.augment import crop_flip
from fer_keras.errors import FERError
from fer_keras.training.recipes import MODERN, RECIPES, Recipe, plan_first_epochs, resolve_recipe, schedule_factor
from fer_keras.training.schedules import RunPlan, ScheduledLearningRate, TimeBudget
from fer_keras.models.tta import predict_tta, tta_views
from fer_keras.training.variants import get_variant


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x))
    model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    return model


def tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 48, 48, 1), dtype=np.float32), np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]


class LearningRateLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def test_paper_recipe_is_each_variants_own_and_modern_is_sgd_cosine():
    paper = resolve_recipe("paper", get_variant("baseline_cnn"))
    assert (paper.optimizer, paper.learning_rate, paper.batch_size, paper.schedule) == ("adam", 1e-3, 64, "plateau")
    assert paper.augmentation == "none" and not paper.scheduled
    assert resolve_recipe(None, get_variant("five_layer_original")).augmentation == "bialek"
    modern = resolve_recipe("modern", get_variant("baseline_cnn"))
    assert (modern.optimizer, modern.schedule, modern.augmentation) == ("adamw", "cosine", "crop_flip")
    assert (modern.learning_rate, modern.weight_decay, modern.label_smoothing) == (0.002, 0.05, 0.0)
    assert not modern.early_stopping
    sgd = resolve_recipe("modern_sgd", get_variant("baseline_cnn"))
    assert (sgd.optimizer, sgd.learning_rate, sgd.label_smoothing) == ("sgd", 0.03, 0.1)
    # FERNet-S, the shipped model, was trained with the SGD form: its variant keeps it
    assert resolve_recipe(None, get_variant("fernet_s")) == resolve_recipe("modern_sgd", get_variant("fernet_s"))


def test_recipes_round_trip_through_json_and_refuse_unknown_keys():
    for recipe in RECIPES.values():
        assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    with pytest.raises(FERError, match="unknown keys lr"):
        Recipe.from_dict({"name": "x", "lr": 0.1})


@pytest.mark.parametrize("field, value, message", [
    ("optimizer", "rmsprop", "unknown optimizer 'rmsprop'"),
    ("schedule", "step", "unknown schedule 'step'"),
    ("augmentation", "mixup", "unknown augmentation 'mixup'"),
    ("learning_rate", -1.0, r"learning_rate must be a finite number in \(0, 10\], got -1"),
    ("momentum", 1.5, r"momentum must be a finite number in \[0, 1\), got 1.5"),
    ("erase_probability", 2.0, r"erase_probability must be a finite number in \[0, 1\]"),
    ("weight_decay", -1.0, r"weight_decay must be a finite number in \[0, 1\], got -1"),
    ("crop_padding", -1, r"crop_padding must be a whole number in \[0, 24\], got -1"),
    ("batch_size", 0, r"batch_size must be a whole number in \[1, 65536\], got 0"),
    ("label_smoothing", 1.0, r"recipe 'bad': label_smoothing must be a finite number in \[0, 1\), got 1"),
])
def test_a_bad_recipe_field_is_one_clear_error(field, value, message):
    with pytest.raises(FERError, match=message):
        Recipe(name="bad", **{field: value})
    with pytest.raises(FERError, match="unknown recipe 'fast'"):
        resolve_recipe("fast", get_variant("baseline_cnn"))


def test_cosine_warms_up_linearly_and_reaches_its_final_ratio_at_the_planned_end():
    recipe = MODERN
    assert schedule_factor(recipe, (1.0, 10)) == pytest.approx(0.5)  # half-way through the 2 warm-up epochs
    assert schedule_factor(recipe, (2.0, 10)) == pytest.approx(1.0)
    assert schedule_factor(recipe, (6.0, 10)) == pytest.approx(0.5)  # half-way down the cosine
    assert schedule_factor(recipe, (10.0, 10)) == pytest.approx(0.0, abs=1e-12)
    onecycle = Recipe(name="oc", optimizer="sgd", schedule="onecycle", warmup_epochs=1)
    assert schedule_factor(onecycle, (5.5, 10)) == pytest.approx(0.5)
    assert schedule_factor(RECIPES["paper"], (3.0, 10)) == 1.0


def test_the_schedule_reaches_its_final_learning_rate_within_one_epoch_of_the_planned_end():
    model, (x, y) = tiny_model(), tiny_data()
    recipe = Recipe(name="t", optimizer="sgd", learning_rate=0.1, schedule="cosine", warmup_epochs=1)
    log = LearningRateLog()
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[ScheduledLearningRate(recipe, RunPlan(4)), log])
    steps = len(x) // 8
    assert len(log.rates) == 4 * steps
    assert max(log.rates) == pytest.approx(0.1, rel=0.05)
    last_epoch = log.rates[-steps:]
    assert last_epoch[-1] < 0.01 * 0.1 * 5  # within the last epoch it has fallen to (nearly) zero
    assert all(a >= b for a, b in zip(last_epoch, last_epoch[1:]))


def test_with_a_budget_the_rate_falls_with_the_budget_spent_even_when_the_plan_grows():
    model, (x, y) = tiny_model(), tiny_data()
    recipe = Recipe(name="t", optimizer="sgd", learning_rate=0.1, schedule="cosine", warmup_epochs=0)
    plan, spent = RunPlan(4), iter(np.linspace(0, 1, 8 * 4))
    schedule = ScheduledLearningRate(recipe, plan, clock=lambda: next(spent))

    class GrowingPlan(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            plan.epochs += 3  # faster epochs: more of them fit

    log = LearningRateLog()
    model.fit(x, y, batch_size=8, epochs=4, verbose=0, callbacks=[schedule, GrowingPlan(), log])
    assert all(a >= b - 1e-9 for a, b in zip(log.rates, log.rates[1:]))  # never climbs back up
    assert log.rates[-1] < 1e-3 and log.rates[0] == pytest.approx(0.1)


class SlowEpochs(keras.callbacks.Callback):
    """Each epoch costs 0.4 s on ``clock`` (a fake clock: the test does not depend on the machine's load)."""

    def __init__(self):
        super().__init__()
        self.now = 0.0

    def clock(self):
        return self.now

    def on_epoch_end(self, epoch, logs=None):
        self.now += 0.4


def test_a_budgeted_run_stops_within_one_epoch_of_its_budget(tmp_path):
    model, (x, y) = tiny_model(), tiny_data()
    budget_seconds, slow = 3.0, SlowEpochs()
    plan = RunPlan(1000)
    history = model.fit(x, y, batch_size=32, epochs=1000, verbose=0,
                        callbacks=[slow, TimeBudget(budget_seconds / 60, plan, tmp_path / "budget.json",
                                                    clock=slow.clock)])
    state = json.loads((tmp_path / "budget.json").read_text())
    assert state["epoch_seconds"] == pytest.approx([0.4] * len(history.history["loss"]))
    assert len(history.history["loss"]) == plan.epochs == state["planned_epochs"]
    assert budget_seconds - 0.4 <= slow.now <= budget_seconds + 0.4
    assert plan.epochs == 7  # 3 s of 0.4-second epochs: an eighth would pass the budget


def test_a_budget_resumed_from_its_state_file_counts_the_time_already_spent_and_keeps_its_plan(tmp_path):
    state = tmp_path / "budget.json"
    state.write_text(json.dumps({"spent_seconds": 100.0, "epoch_seconds": [50.0, 50.0], "planned_epochs": 4}))
    plan = RunPlan(1000)
    budget = TimeBudget(200 / 60, plan, state)
    assert budget.spent == 100.0 and budget.epoch_seconds == [50.0, 50.0]
    assert plan.epochs == 4  # the resumed epoch's learning rate follows the interrupted run's plan
    state.write_text("{")
    with pytest.raises(FERError, match="budget.json is damaged"):
        TimeBudget(200 / 60, RunPlan(1000), state)


def test_a_cpu_clock_budget_counts_the_clock_it_is_given_not_wall_time(tmp_path):
    ticks = iter([0.0, 30.0, 30.0, 60.0, 60.0, 90.0])  # each epoch costs 30 s on the budget's clock
    plan = RunPlan(1000)
    budget = TimeBudget(100 / 60, plan, tmp_path / "budget.json", clock=lambda: next(ticks))
    budget.set_model(tiny_model())
    for epoch in range(3):
        budget.on_epoch_begin(epoch)
        budget.on_epoch_end(epoch, {})
    assert budget.epoch_seconds == [30.0, 30.0, 30.0] and budget.spent == 90.0
    assert plan.epochs == 3 and budget.model.stop_training  # a fourth 30-second epoch would pass 100 s


def test_a_budget_too_small_for_one_epoch_says_how_long_an_epoch_takes():
    assert plan_first_epochs(10, 60) == 10
    with pytest.raises(FERError, match=r"too small for one epoch, which takes about 2\.0 min"):
        plan_first_epochs(1, 120)


def test_crop_flip_shifts_by_at_most_the_padding_and_mirrors_about_half():
    rng = np.random.default_rng(0)
    ramp = np.tile(np.arange(48, dtype=np.float32), (48, 1))[None, ..., None]  # value = column index
    x = np.repeat(ramp, 400, axis=0)
    out = crop_flip(x, rng, padding=4)
    assert out.shape == x.shape and out.dtype == np.float32 and np.array_equal(x, np.repeat(ramp, 400, axis=0))
    centre_column = out[:, 24, 24, 0]
    assert np.all(np.abs(centre_column - 24) <= 4 + 1)  # flip maps column 24 to 23
    mirrored = out[:, 24, 30, 0] < out[:, 24, 20, 0]
    assert 0.4 < mirrored.mean() < 0.6
    erased = crop_flip(x / 48, rng, padding=0, erase_probability=1.0)
    filled = (np.abs(erased - 23.5 / 48) < 1e-6).sum(axis=(1, 2, 3))  # the image mean, found nowhere else
    assert filled.min() >= 1 and filled.max() <= 0.25 * 48 * 48 + 48


def test_augmentation_costs_under_15_percent_of_a_training_step():
    from fer_keras.models import build_model, compile_model

    model = compile_model(build_model("fernet_t"), optimizer="sgd")
    x, y = tiny_data(64)
    model.train_on_batch(x, y)
    rng = np.random.default_rng(0)
    start = time.process_time()
    for _ in range(5):
        model.train_on_batch(x, y)
    step = (time.process_time() - start) / 5
    start = time.process_time()
    for _ in range(20):
        crop_flip(x, rng, 4, 0.5)
    assert (time.process_time() - start) / 20 < 0.15 * step


def test_a_model_trains_on_photo_augmented_batches_and_a_second_run_repeats_it():
    from fer_keras.data.augment import augmenter
    from fer_keras.training.batches import EpochBatches

    x, y = tiny_data(64)
    losses = []
    for _ in range(2):
        batches = EpochBatches(x, y, batch_size=16, seed=1, augment=augmenter("photo"))
        losses.append(tiny_model(seed=2).fit(batches, epochs=2, verbose=0).history["loss"])
    assert len(losses[0]) == 2 and np.isfinite(losses[0]).all()
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


def test_flip_tta_of_a_flip_invariant_model_equals_its_plain_prediction():
    inputs = keras.Input((48, 48, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)  # the mean pixel: blind to mirroring
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(pooled))
    x, _ = tiny_data(16)
    np.testing.assert_allclose(predict_tta(model, x, "flip"), model.predict(x, verbose=0), atol=1e-6)
    assert len(tta_views(x, "crops")) == 10 and len(tta_views(x, "none")) == 1
    assert not np.allclose(predict_tta(tiny_model(), x, "flip"), tiny_model().predict(x, verbose=0), atol=1e-6)
    with pytest.raises(FERError, match="unknown TTA mode 'rotate'"):
        predict_tta(model, x, "rotate")


def test_batches_follow_a_per_epoch_seeded_order_that_a_resumed_run_repeats():
    from fer_keras.training.batches import EpochBatches

    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.eye(10, dtype=np.float32)

    def epoch_rows(batches):
        return [int(v) for i in range(len(batches)) for v in batches[i][0].ravel()]

    uninterrupted = EpochBatches(x, y, batch_size=4, seed=5)
    orders = []
    for _ in range(3):
        orders.append(epoch_rows(uninterrupted))
        uninterrupted.on_epoch_end()
    assert all(sorted(order) == list(range(10)) for order in orders)  # every image once per epoch, unaugmented
    assert orders[0] != orders[1] != orders[2]  # reshuffled every epoch
    resumed = EpochBatches(x, y, batch_size=4, seed=5)
    resumed.start_at(2)
    assert epoch_rows(resumed) == orders[2]
    doubled = EpochBatches(x, y, batch_size=4, seed=5, augment=lambda batch, rng: batch * 2)
    assert epoch_rows(doubled) == [2 * v for v in orders[0]]


@pytest.mark.parametrize("policy", ["crop_flip_erase", "bialek", "photo"])
def test_a_resumed_run_augments_each_batch_as_an_uninterrupted_one_did(policy):
    from fer_keras.data.augment import augmenter
    from fer_keras.training.batches import EpochBatches

    x = np.random.default_rng(0).random((24, 48, 48, 1), dtype=np.float32)
    y = np.eye(24, dtype=np.float32)
    uninterrupted = EpochBatches(x, y, batch_size=8, seed=3, augment=augmenter(policy, seed=3))
    uninterrupted[0]  # batches drawn before the interruption (and the budget check's) move no shared generator
    uninterrupted.on_epoch_end()
    seen = [uninterrupted[i][0] for i in range(3)]
    resumed = EpochBatches(x, y, batch_size=8, seed=3, augment=augmenter(policy, seed=3))  # a new process
    resumed.start_at(1)
    for i in (2, 0, 1):  # any fetch order (Keras fetches batches in threads)
        np.testing.assert_array_equal(resumed[i][0], seen[i])
    plain = EpochBatches(x, y, batch_size=8, seed=3)
    plain.start_at(1)
    assert not np.array_equal(seen[0], plain[0][0]) and np.array_equal(resumed[0][1], plain[0][1])  # augmented


def test_an_unknown_distill_tta_is_one_line():
    from fer_keras.training.recipes import MODERN, override

    assert override(MODERN, ["distill_tta=flip"]).distill_tta == "flip"
    with pytest.raises(FERError, match="unknown distill_tta 'crops'; expected one of none, flip"):
        override(MODERN, ["distill_tta=crops"])


def test_a_consistent_teacher_targets_the_batch_the_student_sees():
    from fer_keras.training.batches import EpochBatches
    from fer_keras.training.distill import Teacher, soften

    class LeftBright:
        """A stub teacher: class 0 when the left half of the face is the brighter, else class 1."""

        def predict_on_batch(self, x):
            x = np.asarray(x)
            left = (x[:, :, :24].mean(axis=(1, 2, 3)) > x[:, :, 24:].mean(axis=(1, 2, 3))).astype(np.float32)
            return np.stack([0.9 * left + 0.05, 0.9 * (1 - left) + 0.05] + [np.zeros_like(left)] * 5, axis=1)

    x = np.zeros((8, 48, 48, 1), np.float32)
    y = np.eye(7, dtype=np.float32)[[6] * 8]  # dark faces, all "neutral"
    teacher = Teacher(("stub",), 0.5, 1.0, y, 0.0, models=(LeftBright(),))
    assert teacher.consistent and teacher.record()["consistent"] is True

    def brighten_left(batch, rng):
        batch = batch.copy()
        batch[:, :, :24] += 1.0
        return batch

    targets = EpochBatches(x, y, batch_size=4, augment=brighten_left, teach=teacher.mix)[0][1]
    expected = 0.5 * y[:4] + 0.5 * soften(LeftBright().predict_on_batch(brighten_left(x[:4], None)), 1.0)
    np.testing.assert_allclose(targets, expected, atol=1e-6)  # the teacher saw the augmented batch: class 0
    assert targets[:, 0].min() > 0.4 and targets[:, 1].max() < 0.1 and np.allclose(targets.sum(1), 1)
    flip = Teacher(("stub",), 1.0, 1.0, y, 0.0, "flip", (LeftBright(),))
    mirrored_mean = flip.mix(brighten_left(x, None), y)  # the face says 0, its mirror 1: an even mean
    np.testing.assert_allclose(mirrored_mean[:, :2], 0.5, atol=1e-6)


def test_weight_averaging_is_a_recipe_field_the_optimizer_takes():
    from fer_keras.training.recipes import MODERN_SGD, build_optimizer, override

    assert not build_optimizer(MODERN_SGD).use_ema
    optimizer = build_optimizer(override(MODERN_SGD, ["ema_momentum=0.999"]))
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.999)
    assert override(MODERN_SGD, ["distill_consistent=yes"]).distill_consistent is True
    with pytest.raises(FERError, match="ema_momentum must be a finite number in \\[0, 1\\), got 1"):
        override(MODERN_SGD, ["ema_momentum=1"])
