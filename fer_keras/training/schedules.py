"""The callbacks that plan a run in epochs or minutes: a per-batch learning-rate schedule that
anneals to the planned end, and a time budget that re-plans that end after every epoch.
The schedule's shape is ``fer_keras.training.recipes.schedule_factor``."""

import json
import time
from pathlib import Path

import keras

from fer_keras.errors import FERError
from fer_keras.runs.folder import write_json
from fer_keras.training.recipes import schedule_factor


class ScheduledLearningRate(keras.callbacks.Callback):
    """Sets the optimizer's learning rate before every batch from :func:`schedule_factor`.

    Progress is counted in epochs of the shared :class:`RunPlan` — or, with a time budget, read
    from ``clock`` (the fraction of the budget spent, :meth:`TimeBudget.fraction`), so that the
    rate falls monotonically to the deadline even when re-planning changes the number of epochs.
    The learning rate of each epoch is logged as ``learning_rate``.
    """

    def __init__(self, recipe, plan, clock=None):
        super().__init__()
        self.recipe, self.plan, self.clock = recipe, plan, clock
        self.steps = None
        self.epoch = 0

    def on_train_begin(self, logs=None):
        self.steps = self.params.get("steps") or 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        done = self.clock() * self.plan.epochs if self.clock else self.epoch + batch / self.steps
        factor = schedule_factor(self.recipe, (done, self.plan.epochs))
        self.model.optimizer.learning_rate.assign(self.recipe.learning_rate * factor)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy()
                                          if hasattr(self.model.optimizer.learning_rate, "numpy")
                                          else self.model.optimizer.learning_rate)


class EpochTimer(keras.callbacks.Callback):
    """Logs each epoch's wall seconds as ``epoch_seconds`` (so ``history.csv`` holds the time of a
    run across interruptions: its sum is the run's training time)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self.started


class RunPlan:
    """The planned number of epochs of a run, shared by the schedule and the time budget."""

    def __init__(self, epochs):
        self.epochs = epochs


class TimeBudget(keras.callbacks.Callback):
    """Plans a run in minutes: after every epoch, the epochs that still fit in the budget are
    estimated from the mean time of the last three epochs (training + validation; recent epochs
    say most about the machine's current load), the shared ``plan`` is updated (so the schedule
    anneals to the new end) and training stops when the next epoch would not fit. The budget
    counts epochs only (not data preparation or the final evaluation). Time already spent and the
    plan of an interrupted run are read back from ``state_file`` on resume. ``clock``: wall time
    (``time.perf_counter``, the default) or the process' CPU time (``time.process_time``: a budget in
    CPU-minutes, the same work however busy the machine is).
    """

    def __init__(self, minutes, plan, state_file, max_epochs=None, clock=time.perf_counter):
        super().__init__()
        self.budget, self.clock = minutes * 60.0, clock
        self.plan, self.state_file, self.max_epochs = plan, Path(state_file), max_epochs
        self.spent, self.epoch_seconds, self.started = 0.0, [], None
        if self.state_file.exists():
            try:
                state = json.loads(self.state_file.read_text())
                self.spent, self.epoch_seconds = state["spent_seconds"], state["epoch_seconds"]
                self.plan.epochs = state["planned_epochs"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise FERError(f"{self.state_file} is damaged; delete it to restart the budget, or start afresh "
                               "with --fresh") from None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = self.clock()

    def fraction(self):
        """The share of the budget spent so far, the running epoch included (0 to 1)."""
        running = self.clock() - self.started if self.started is not None else 0.0
        return min((self.spent + running) / self.budget, 1.0)

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(self.clock() - self.started)
        self.spent += self.epoch_seconds[-1]
        self.started = None
        recent = self.epoch_seconds[-3:]
        per_epoch = max(sum(recent) / len(recent), 1e-6)  # a coarse clock can see an epoch take no time
        fits = epoch + 1 + int((self.budget - self.spent) // per_epoch)
        self.plan.epochs = max(epoch + 1, min(fits, self.max_epochs or fits))
        if self.plan.epochs <= epoch + 1:
            self.model.stop_training = True
        write_json(self.state_file, {"spent_seconds": self.spent, "epoch_seconds": self.epoch_seconds,
                                     "planned_epochs": self.plan.epochs})
        if logs is not None:
            logs["planned_epochs"] = self.plan.epochs


BUDGET_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""``--budget-clock``: what a time budget's minutes count."""


def check_budget_fits(model, fit_data, minutes, steps=3, clock=time.perf_counter):
    """Time ``steps`` training steps of a throwaway compiled ``model`` on the first batch of
    ``fit_data`` (the ``model.fit`` arguments) and refuse a budget of ``minutes`` too small for one
    epoch, saying how long an epoch takes. Returns the epochs that fit, from the estimated seconds
    per epoch (+10 % for validation)."""
    from fer_keras.training.recipes import plan_first_epochs

    source = fit_data["x"]
    if isinstance(source, keras.utils.PyDataset):
        batch, n_batches = source[0], len(source)
    else:
        size = fit_data["batch_size"]
        batch, n_batches = (source[:size], fit_data["y"][:size]), -(-len(source) // size)
    model.train_on_batch(*batch)  # tracing
    start = clock()
    for _ in range(steps):
        if isinstance(source, keras.utils.PyDataset):
            batch = source[0]
        model.train_on_batch(*batch)
    per_epoch = (clock() - start) / steps * n_batches * 1.1
    return plan_first_epochs(minutes, per_epoch)
