"""Training's middle: the compiled model, its batches, the plan of epochs, the callbacks, and the fit
itself, stage by stage (:class:`Fit`). The calls keep the order of the random draws, so a seed gives
the same history as it always did."""

import sys
import time

import numpy as np

from fer_keras.errors import FERError
from fer_keras.files import atomic_write
from fer_keras.training.stages import enter_stage, stage_arrays, stage_logger


class Fit:
    """The model of a run and how it is fitted: ``compiled_model`` builds (or recompiles) it by the
    recipe, ``batches`` are the first stage's training batches, ``stage_epochs`` each stage's epochs and
    ``first_plan`` the epochs planned before any was run (a time budget re-plans them)."""

    def __init__(self, options, data):
        """Sets up the batches and builds the model; with a time budget, a throwaway model's first steps
        check that one epoch fits it."""
        import keras

        from fer_keras.data.augment import augmenter
        from fer_keras.models import MODEL_FAMILIES
        from fer_keras.models.blocks import AUX_OUTPUTS, MAIN_OUTPUT
        from fer_keras.training.schedules import BUDGET_CLOCKS, check_budget_fits

        self.options, self.data, recipe = options, data, data.recipe
        # GoogLeNet trains with auxiliary classifiers: the same labels on each output; best.keras drops them
        family = MODEL_FAMILIES.get(options.variant.model)  # (None for a builder a test registered by hand)
        self.aux_outputs = family is not None and family.aux_outputs
        self.outputs, self.training_kwargs = (((MAIN_OUTPUT, *AUX_OUTPUTS), {"auxiliary": True}) if self.aux_outputs
                                              else (None, {}))
        self.augment = augmenter(recipe.augmentation, options.seed, recipe.crop_padding, recipe.erase_probability)
        self.x_val, self.y_val, self.weights_val = data.placement.split_evenly(data.prepared.x_val,
                                                                               data.prepared.y_val)
        self.batches = self.stage_batches(options.stages[0])
        self.stage_epochs = [stage.epochs or data.epochs for stage in options.stages]
        self.first_plan = sum(self.stage_epochs)
        self.epochs = data.epochs
        if options.time_budget is not None:  # a budget too small for one epoch fails here
            with data.placement.scope():
                self.first_plan = min(data.epochs, check_budget_fits(
                    self.compiled_model(), {"x": self.batches}, options.time_budget,
                    clock=BUDGET_CLOCKS[options.budget_clock]))
            keras.utils.set_random_seed(options.seed)
        self.model = self.compiled_model()
        self.snapshots = None

    def compiled_model(self, model=None, learning_rate=None):
        """A new model (or ``model``) compiled by the recipe, at ``learning_rate`` if given; a new model
        starts from ``--init``'s weights when there is one."""
        from dataclasses import replace

        from fer_keras.models import build_model, compile_model
        from fer_keras.training.recipes import build_optimizer

        variant, recipe, model_kwargs = self.options.variant, self.data.recipe, self.options.model_kwargs
        with self.data.placement.scope():  # a tf.distribute strategy's variables (JAX: their layout) are made here
            fresh = model is None
            try:
                model = model if model is not None else build_model(
                    variant.model, binary=variant.binary,
                    num_classes=1 if variant.binary else self.data.dataset.label_set.num_classes,
                    **self.training_kwargs, **(model_kwargs or {}))
            except (ValueError, TypeError) as err:
                if not model_kwargs or isinstance(err, FERError):
                    raise
                raise FERError(f"cannot build {variant.model} with {model_kwargs}: {err}") from None
            if fresh and self.data.init is not None:  # --init: start from a trained model's weights
                self.data.init.load_into(model)
            optimizer = build_optimizer(replace(recipe, learning_rate=learning_rate or recipe.learning_rate))
            return compile_model(model, optimizer=optimizer, binary=variant.binary,
                                 label_smoothing=recipe.label_smoothing,
                                 steps_per_execution=self.data.steps_per_execution)

    def stage_batches(self, stage):
        """The training batches of ``stage`` (its arrays, class weights as sample weights, augmented)."""
        from fer_keras.data.pre_proc_data import labels_of
        from fer_keras.training.batches import EpochBatches

        prepared = self.data.prepared
        x, y = stage_arrays(prepared, stage)
        weights = (None if prepared.class_weight is None
                   else np.array([prepared.class_weight.get(k, 1.0) for k in labels_of(y)], dtype=np.float32))
        x, y, weights = self.data.placement.split_evenly(x, y, weights)
        teacher = self.data.teacher
        return EpochBatches(x, y, self.data.batch_size, self.options.seed, weights, augment=self.augment,
                            outputs=self.outputs, teach=teacher.mix if teacher and teacher.consistent else None)

    def plan_snapshots(self, before=None):
        """With a snapshot recipe: the cycles end the run (one stage), each ``cycle_epochs`` long, fixed at
        the first plan; a resumed run keeps the length its config recorded (``before``). Returns the
        record for ``config.json``, or None."""
        from fer_keras.training.snapshots import cycle_epochs

        recipe = self.data.recipe
        if not recipe.snapshots:
            return None
        recorded = (before.snapshots or {}).get("cycle_epochs") if before is not None else None
        length = cycle_epochs(recipe.cycles, self.first_plan, recorded)
        self.snapshots = {"cycles": recipe.cycles, "cycle_epochs": length}
        self.epochs = self.first_plan = length * recipe.cycles
        self.stage_epochs = [self.epochs]  # one stage (check_stages): the cycles, not the asked epochs, end the run
        print(f"snapshot ensemble: {recipe.cycles} cycles of {length} epochs, a snapshot after each")
        return self.snapshots

    def callbacks(self, run):
        """(plan, callbacks beside the suite): the epoch timer, the scheduled learning rate, the time budget
        and the snapshot checkpoints the recipe and options ask for."""
        import keras

        from fer_keras.training.schedules import (BUDGET_CLOCKS, EpochTimer, RunPlan, ScheduledLearningRate,
                                                  TimeBudget)
        from fer_keras.training.snapshots import SnapshotCheckpoint

        recipe, options = self.data.recipe, self.options
        plan = RunPlan(self.first_plan)  # a time budget re-plans it after every epoch
        budget = None if options.time_budget is None else TimeBudget(
            options.time_budget, plan, run.budget, max_epochs=self.epochs, clock=BUDGET_CLOCKS[options.budget_clock])
        # snapshot cycles end at fixed epochs (not at a share of the budget), whatever the budget re-plans
        schedule = (ScheduledLearningRate(recipe, RunPlan(self.first_plan)) if self.snapshots
                    else ScheduledLearningRate(recipe, plan, budget and budget.fraction))
        # SwapEMAWeights first: the epoch's validation, checkpoint and backup see the averaged weights
        extra = (([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if recipe.ema_momentum else [])
                 + [EpochTimer()] + ([schedule] if recipe.scheduled else []) + ([budget] if budget else [])
                 + ([SnapshotCheckpoint(run.path, self.snapshots["cycle_epochs"], recipe.cycles)]
                    if self.snapshots else []))
        return plan, extra

    def validation(self):
        """The validation data of ``model.fit``: arrays, or for a streamed run batches in a fixed order
        whose decoded images a bounded LRU keeps (across stages)."""
        from fer_keras.training.batches import EpochBatches, per_output

        if self.options.stream:
            return EpochBatches(self.x_val, self.y_val, self.data.batch_size, sample_weight=self.weights_val,
                                outputs=self.outputs, shuffle=False, cache_batches=self.options.stream_cache)
        return (self.x_val, per_output(self.y_val, self.outputs)) + (
            () if self.weights_val is None else (self.weights_val,))

    def fit_stages(self, run, extra):
        """Fit every stage into ``run`` (each after the first from the best checkpoint so far, with the
        stage's layers and learning rate); returns (minutes, CPU minutes) of the fitting."""
        from fer_keras.models import inference_model
        from fer_keras.training.callbacks import callback_suite

        options, placement, recipe = self.options, self.data.placement, self.data.recipe
        verbose = options.verbose if options.verbose is not None else (1 if sys.stdout.isatty() else 2)
        start, cpu_start = time.perf_counter(), time.process_time()
        validation, done = self.validation(), 0
        for number, (stage, n_epochs) in enumerate(zip(options.stages, self.stage_epochs), 1):
            if number > 1:
                print(f"\nstage {number}/{len(options.stages)}: {stage.data}, {n_epochs} epochs"
                      + (f", last {stage.unfreeze} backbone layers unfrozen" if stage.unfreeze else "")
                      + (f", learning rate {stage.learning_rate:g}" if stage.learning_rate else ""))
                with placement.scope():
                    self.model = self.compiled_model(enter_stage(self.model, stage, run.best), stage.learning_rate)
                self.batches = self.stage_batches(stage)
                self.batches.start_at(done)
            callbacks = callback_suite(run.path, options.variant.callbacks, plateau=recipe.schedule == "plateau",
                                       early_stopping=recipe.early_stopping,
                                       extra=extra + ([stage_logger(number)] if options.staged else []),
                                       aux_outputs=self.aux_outputs, since=done)
            with placement.scope():
                # shuffle=False: EpochBatches draws each epoch's batches from [seed, epoch]; Keras' own shuffle of a
                # PyDataset's batch order draws from Python's random, whose position a resumed run does not restore
                self.model.fit(x=self.batches, validation_data=validation, initial_epoch=done, epochs=done + n_epochs,
                               callbacks=callbacks, verbose=verbose, shuffle=False)
            done = len(run.read_history())
            if not run.best.exists():  # no epoch had a finite monitor value: keep the last weights
                atomic_write(run.best, lambda tmp, last=inference_model(self.model): last.save(tmp))
        return (time.perf_counter() - start) / 60, (time.process_time() - cpu_start) / 60

    def check_health(self, run):
        """Precise BatchNorm and the collapse check on the validation split (not for a streamed run, whose
        validation images are not held in memory)."""
        from fer_keras.training.health import check_trained_run

        options = self.options
        return ({} if options.stream else
                check_trained_run(run, self.data.prepared, options.precise_bn, options.seed,
                                  binary=options.variant.binary))
