"""Snapshot Ensembles (Huang et al. 2017, "Snapshot Ensembles: Train 1, get M for free"): the cycle
plan of a run with a cosine that restarts (recipe schedule ``"cosine_restarts"``) and the callback
that saves a snapshot at the end of every cycle into the run folder (``snapshots/cycle_<k>.keras``,
named by ``fer_keras.runs.folder``; ``python -m fer_keras.ensemble --snapshots RUN`` combines them).

The cycle length is fixed in whole epochs when the run is first planned (from ``--epochs`` or the
first plan of ``--time-budget``) and recorded in ``config.json``; a resumed run reads it back, so its
cycle boundaries never move. A budget that later finds the epochs slower can only end the run early
(fewer snapshots), never stretch or squeeze a cycle.
"""

import keras

from fer_keras.errors import FERError
from fer_keras.files import atomic_write
from fer_keras.runs.folder import Run


def cycle_epochs(cycles, planned_epochs, recorded=None):
    """Epochs per learning-rate cycle: ``recorded`` (an interrupted run's, from its config) or
    ``planned_epochs // cycles``; a plan of fewer epochs than cycles is a user error."""
    if recorded:
        return int(recorded)
    length = planned_epochs // cycles
    if length < 1:
        raise FERError(f"{cycles} snapshot cycles need at least {cycles} epochs, but the run is planned for "
                       f"{planned_epochs}; give more --epochs or --time-budget, or fewer cycles (--set cycles=N)")
    return length


class SnapshotCheckpoint(keras.callbacks.Callback):
    """Saves the inference model after every ``cycle_epochs`` epochs, up to ``cycles`` times, as the
    run's ``snapshots/cycle_<k>.keras`` (atomically: an interrupted save leaves no half file)."""

    def __init__(self, run_dir, cycle_epochs, cycles):
        super().__init__()
        self.run, self.cycle_epochs, self.cycles = Run(run_dir), cycle_epochs, cycles

    def on_epoch_end(self, epoch, logs=None):
        cycle, into = divmod(epoch + 1, self.cycle_epochs)
        if into or not 1 <= cycle <= self.cycles:
            return
        from fer_keras.models.registry import inference_model

        path = self.run.snapshot(cycle)
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, inference_model(self.model).save)  # self.model: under JAX, synced state
        print(f"\nsnapshot {cycle}/{self.cycles} (epoch {epoch + 1}) → {path}")
