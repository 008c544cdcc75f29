"""The callback suite every training run uses: standard Keras callbacks, configured per variant."""

import os
from dataclasses import dataclass
from pathlib import Path

from fer_keras.runs.folder import Run


@dataclass(frozen=True)
class CallbackConfig:
    """The seeds' monitors, factors and patiences (DESIGN §3). ``None`` switches a callback off."""

    lr_monitor: str = "val_loss"
    lr_factor: float = 0.1
    lr_patience: int = 2
    lr_min_delta: float = 1e-4
    early_stopping_monitor: str = "val_loss"
    early_stopping_patience: int | None = 5
    checkpoint_monitor: str = "val_accuracy"


def tensorboard_available():
    """Keras' TensorBoard callback writes through ``tf.summary``: it needs TensorFlow installed."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


def best_so_far(run, monitor):
    """The best ``monitor`` value an interrupted run already reached (its ``history.csv``), so that
    a resumed run's checkpoint is never replaced by a worse epoch; None for a new run."""
    best = run.best_row(monitor)
    return None if best is None else best[1]


def resumable_early_stopping(run, since=0, **kwargs):
    """Keras' EarlyStopping that, when the run resumes, restarts from the best value and the wait
    count the interrupted run had reached (read from its history), instead of from scratch.
    ``since``: the history row where the current stage began (its earlier rows do not count)."""
    import keras

    class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            best = run.best_row(self.monitor, since)
            if best is not None:
                self.best, self.wait = best[1], len(run.read_history()) - 1 - best[0]

    return ResumableEarlyStopping(**kwargs)


def resumable_plateau(run, since=0, **kwargs):
    """Keras' ReduceLROnPlateau that, when the run resumes, restarts from the best value and the wait
    count the interrupted run had reached: its rule is replayed over the monitor's values in
    ``history.csv`` (the learning rate itself is restored with the optimizer by BackupAndRestore).
    ``since``: the history row where the current stage began."""
    import keras

    if kwargs.get("cooldown") or kwargs.get("min_lr"):
        raise ValueError("resumable_plateau replays ReduceLROnPlateau without cooldown or min_lr")

    class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            history = run.read_history()
            if self.monitor not in history:
                return
            if self.monitor_op is None:
                self._set_monitor_op()
            for value in history[self.monitor].iloc[since:]:  # ReduceLROnPlateau.on_epoch_end, cooldown 0
                if self._is_improvement(value, self.best):
                    self.best, self.wait = value, 0
                else:
                    self.wait += 1
                    if self.wait >= self.patience:
                        self.wait = 0

    return ResumablePlateau(**kwargs)


EPOCH_DRAWS = 1 << 16
"""Room for each epoch's random draws in a seed generator's counter (one draw per layer and step);
the counter wraps at 2³¹, the range of torch's int32 seeds."""


def epoch_seeds():
    """Sets every seed generator of the model (dropout, random layers) to ``(its seed, epoch × 2¹⁶)``
    at each epoch's start, so that a run resumed at epoch e draws the masks an uninterrupted one drew
    there: BackupAndRestore keeps weights and optimizer, not the generators' counters."""
    import keras
    import numpy as np

    class EpochSeeds(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.states = [v for v in self.model.variables if v.path.endswith("seed_generator_state")]
            self.seeds = [int(keras.ops.convert_to_numpy(v.value)[0]) for v in self.states]

        def on_epoch_begin(self, epoch, logs=None):
            for state, seed in zip(self.states, self.seeds):
                state.assign(np.array([seed, epoch * EPOCH_DRAWS % 2 ** 31]).astype(state.dtype))

    return EpochSeeds()


def main_output_logs():
    """For a model with auxiliary outputs, whose accuracy Keras logs as ``predictions_accuracy`` and
    ``val_predictions_accuracy``: copies them to ``accuracy`` and ``val_accuracy`` at each epoch's
    end, so the variant's monitors, ``history.csv`` and the best-epoch reading work as for any model.
    ``loss`` / ``val_loss`` stay the weighted sum that training minimises."""
    import keras

    from fer_keras.models.blocks import MAIN_OUTPUT

    class MainOutputLogs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for prefix in ("", "val_"):
                if logs is not None and f"{prefix}{MAIN_OUTPUT}_accuracy" in logs:
                    logs[f"{prefix}accuracy"] = logs[f"{prefix}{MAIN_OUTPUT}_accuracy"]

    return MainOutputLogs()


def committed_backup(run, since=0, ema=None):
    """Keras' BackupAndRestore made crash-consistent, and the **commit point of every epoch**: it runs last
    (after the checkpoint, ``history.csv`` and the time budget's state), saves the weights and optimizer to
    a new file, then atomically replaces ``backup/state.json``, which names that file and the epochs done.
    A kill anywhere leaves the previous commit whole; training resumes from it after dropping the rows and
    budget entries of an epoch that was not committed (:func:`roll_back_to`, called before the callbacks
    are made), so that epoch runs again as it first did, and ``best.keras`` (written atomically) is
    rewritten by it if it still wins. The backup is kept after ``fit`` ends: training deletes it once the
    run is evaluated (``Run.finish``). ``since``: the epoch the current stage starts at; a commit no later
    than it belongs to an earlier stage, whose model the stage has replaced, and is not restored. ``ema``: the
    run's ``keras.callbacks.SwapEMAWeights``, if any: the commit holds the raw weights as training does (the
    averaged ones, swapped in for the epoch's checkpoint, are swapped out around the save), so a resumed run
    goes on from where an uninterrupted one would."""
    import keras

    from fer_keras.files import atomic_write
    from fer_keras.runs.folder import write_json

    class CommittedBackup(keras.callbacks.BackupAndRestore):
        def __init__(self):
            super().__init__(str(run.backup), delete_checkpoint=False)
            self.state = run.backup / "state.json"

        def on_train_begin(self, logs=None):
            state = run.committed_state()
            if state is None or state.epochs <= since:
                return
            if not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            self.model.load_weights(state.weights)
            self.model._initial_epoch = state.epochs

        def _save_model(self):
            run.backup.mkdir(exist_ok=True)
            weights = f"epoch_{self._current_epoch}.weights.h5"
            swapped = ema is not None and ema._ema_weights_in_model  # (Keras' own flag)
            if swapped:
                ema._swap_variables()
            try:
                atomic_write(run.backup / weights, lambda tmp: self.model.save_weights(tmp))
            finally:
                if swapped:
                    ema._swap_variables()
            write_json(self.state, {"epochs_done": self._current_epoch, "weights": weights})  # the commit
            for old in run.backup.glob("epoch_*.weights.h5"):
                if old.name != weights:
                    old.unlink()

    return CommittedBackup()


def roll_back_to(run, epochs):
    """Drop what an uncommitted epoch left: ``history.csv`` rows and time-budget entries past ``epochs``."""
    from fer_keras.files import atomic_write
    from fer_keras.runs.folder import write_json

    history = run.read_history()
    if len(history) > epochs:
        kept = history.iloc[:epochs]
        atomic_write(run.history, lambda tmp: kept.to_csv(tmp, index=False))
    if run.budget.exists():
        budget = run.read_budget()
        if len(budget.get("epoch_seconds", [])) > epochs:
            budget["epoch_seconds"] = budget["epoch_seconds"][:epochs]
            budget["spent_seconds"] = sum(budget["epoch_seconds"])
            write_json(run.budget, budget)


def atomic_checkpoint(checkpoint_class):
    """``checkpoint_class`` (a ModelCheckpoint) saving into a temporary file moved over the checkpoint, so a
    kill during the save never leaves a half-written ``best.keras``."""

    class AtomicCheckpoint(checkpoint_class):
        def _save_model(self, epoch, batch, logs):
            final = self.filepath
            partial = Path(final).with_name(f".partial-{Path(final).name}")
            self.filepath = str(partial)
            try:
                super()._save_model(epoch, batch, logs)
            finally:
                self.filepath = final
            if partial.exists():
                os.replace(partial, final)

    return AtomicCheckpoint


def inference_checkpoint(filepath, **kwargs):
    """Keras' ModelCheckpoint that saves ``inference_model(model)`` — for a model with auxiliary
    outputs, the one-output model sharing its weights — so ``best.keras`` never has the aux heads."""
    import keras

    from fer_keras.models.registry import inference_model

    class InferenceCheckpoint(keras.callbacks.ModelCheckpoint):
        def set_model(self, model):
            super().set_model(model)
            self.inference = inference_model(model)

        @property
        def model(self):
            super().model  # under JAX, this copies the training state into the shared variables
            return self.inference

    return atomic_checkpoint(InferenceCheckpoint)(filepath, **kwargs)


def callback_suite(run_dir, config=CallbackConfig(), tensorboard=True, plateau=True, early_stopping=True, extra=(),
                   aux_outputs=False, since=0):
    """ReduceLROnPlateau, EarlyStopping (both resumable), ModelCheckpoint (``best.keras``, the model evaluated),
    TensorBoard (``logs/``), CSVLogger (``history.csv``, appended on resume) and BackupAndRestore
    (``backup/``, so an interrupted run resumes from its last completed epoch; ``epoch_seeds`` makes
    its random draws those of an uninterrupted run).

    ``plateau=False`` / ``early_stopping=False`` leave those two out (a recipe with a planned
    schedule owns the learning rate and runs to its planned end); ``extra`` callbacks (the
    schedule, the time budget) run before the checkpoint and the logs, so what they log is saved.
    ``aux_outputs``: the model trains with auxiliary outputs; the main output's accuracy is logged
    under the plain names (``main_output_logs``) and the checkpoint holds the inference model.
    ``since``: the first epoch of the current stage (``fer_keras.training.stages``): early stopping counts
    from there, while the checkpoint keeps the best of the whole run.
    """
    import keras

    run = Run(Path(run_dir))
    mode = {"loss": "min", "accuracy": "max"}
    callbacks = [epoch_seeds(), *([main_output_logs()] if aux_outputs else []), *extra]
    if plateau:
        callbacks.append(resumable_plateau(
            run, since, monitor=config.lr_monitor, factor=config.lr_factor, patience=config.lr_patience,
            min_delta=config.lr_min_delta, mode=mode[config.lr_monitor.split("_")[-1]], verbose=1))
    callbacks += [
        (inference_checkpoint if aux_outputs else atomic_checkpoint(keras.callbacks.ModelCheckpoint))(
            str(run.best), monitor=config.checkpoint_monitor, save_best_only=True,
            mode=mode[config.checkpoint_monitor.split("_")[-1]],
            initial_value_threshold=best_so_far(run, config.checkpoint_monitor)),
        keras.callbacks.CSVLogger(str(run.history), append=True),
    ]
    if early_stopping and config.early_stopping_patience is not None:
        callbacks.append(resumable_early_stopping(
            run, since, monitor=config.early_stopping_monitor, patience=config.early_stopping_patience,
            mode=mode[config.early_stopping_monitor.split("_")[-1]], verbose=1))
        # no restore_best_weights: the run is judged by best.keras (the checkpoint monitor's best
        # epoch); restoring the early-stopping monitor's best epoch only printed a second, different one
    if tensorboard and tensorboard_available():
        callbacks.append(keras.callbacks.TensorBoard(str(run.logs)))
    ema = next((c for c in extra if isinstance(c, keras.callbacks.SwapEMAWeights)), None)
    return callbacks + [committed_backup(run, since, ema)]  # last: its save is the epoch's commit
