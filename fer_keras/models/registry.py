"""One registry of model families, discovered: ``MODEL_FAMILIES``, ``build_model(name, **kwargs)`` and
``compile_model``.

A family is one module. It declares ``FAMILY = ModelFamily(...)`` (or ``FAMILIES = (...)``) at its top
level (``fer_keras.models.family``), and :func:`discover` finds it: in this package, then in the folders
of the ``FER_KERAS_FAMILIES`` environment variable (``os.pathsep``-separated; each ``*.py`` file there is
a plug-in module). Nothing lists the families by hand, so adding one is adding its file; the tests run
over the registry (shapes, parameter totals, minimum input, safe-mode save/reload, CPU sizes).

Discovery reads each module's source first and imports only the modules that assign ``FAMILY`` or
``FAMILIES``; the builder modules import Keras lazily (``fer_keras.models.lazy``), so the registry —
and ``--list`` — is ready without a Keras backend.
"""

import ast
import importlib
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path

from fer_keras.data.regions import VOTE_REGIONS
from fer_keras.errors import FERError
from fer_keras.models.blocks import AUX_OUTPUTS, MAIN_OUTPUT, scale_width, unfreeze_last_layers
from fer_keras.models.family import ModelFamily
from fer_keras.models.lazy import keras

PLUGIN_PATH = "FER_KERAS_FAMILIES"
"""The environment variable naming the plug-in folders (``os.pathsep``-separated) whose modules declare
more families."""

DECLARATIONS = ("FAMILY", "FAMILIES")
"""The top-level names a module declares its families by: one ``ModelFamily``, or a sequence of them."""


def declares_families(path):
    """Whether the Python file ``path`` assigns ``FAMILY`` or ``FAMILIES`` at its top level (read, not run)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        if any(isinstance(target, ast.Name) and target.id in DECLARATIONS for target in targets):
            return True
    return False


def families_of(module):
    """The ``ModelFamily`` objects ``module`` declares (``FAMILY``, then ``FAMILIES``)."""
    declared = [module.FAMILY] if hasattr(module, "FAMILY") else []
    declared += list(getattr(module, "FAMILIES", ()))
    for family in declared:
        if not isinstance(family, ModelFamily):
            raise FERError(f"{module.__name__} declares {family!r}, which is not a fer_keras.models.family.ModelFamily")
    return declared


def package_modules():
    """The modules of this package that declare families, imported, in file-name order."""
    package = sys.modules[__name__.rpartition(".")[0]]
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        path = Path(info.module_finder.path) / f"{info.name.rpartition('.')[2]}.py"
        if not info.ispkg and path.is_file() and declares_families(path):
            yield importlib.import_module(info.name)


def plugin_modules(folders):
    """The ``*.py`` modules of the plug-in ``folders`` that declare families, imported (as
    ``fer_keras_plugin_<folder index>_<stem>``, so a plug-in may share a name with a package module)."""
    for index, folder in enumerate(folders):
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FERError(f"{PLUGIN_PATH} names {folder}, which is not a folder")
        for path in sorted(folder.glob("*.py")):
            if not declares_families(path):
                continue
            name = f"fer_keras_plugin_{index}_{path.stem}"
            if name not in sys.modules:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
            yield sys.modules[name]


def plugin_folders(environ=None):
    """The folders of ``FER_KERAS_FAMILIES`` (none when it is unset or empty)."""
    value = (os.environ if environ is None else environ).get(PLUGIN_PATH, "")
    return [folder for folder in value.split(os.pathsep) if folder.strip()]


def discover(folders=None):
    """Name → ``ModelFamily`` for every family of this package, then of the plug-in ``folders``
    (default: ``FER_KERAS_FAMILIES``'s). Two families of one name are an error, so a plug-in cannot
    silently replace a family of the package."""
    found, where = {}, {}
    modules = [*package_modules(), *plugin_modules(plugin_folders() if folders is None else folders)]
    for module in modules:
        for family in families_of(module):
            if family.name in found:
                raise FERError(f"model family {family.name!r} is declared twice: in {where[family.name]} and "
                               f"in {module.__name__}")
            found[family.name], where[family.name] = family, module.__name__
    return found


MODEL_FAMILIES = discover()
"""Model name → family. Every builder takes ``input_shape``, ``num_classes``, ``binary``, ``name``."""

MODEL_BUILDERS = {name: family.builder for name, family in MODEL_FAMILIES.items()}
"""Model name → builder (a view of ``MODEL_FAMILIES``; tests add a builder here by hand)."""


def takes_width(name):
    """Whether family ``name``'s builder has a ``width`` argument of its own."""
    import inspect

    return "width" in inspect.signature(MODEL_BUILDERS[name]).parameters


def build_model(name, /, **kwargs):
    """Build the registered model ``name`` (uncompiled); ``kwargs`` go to its builder.

    ``name`` is positional-only, so ``build_model("cnn_lstm", name="run3")`` renames the model.
    ``width`` (a multiplier of every convolution's filters and hidden Dense layer's units) goes to the
    builder when it has that argument, and is applied by ``blocks.scale_width`` to any other family
    (random weights only): every family has a thinner, CPU-sized form (``models.presets``).
    ``region`` (a name in ``fer_keras.data.regions.VOTE_REGIONS``, default "whole") puts a
    ``layers.FaceRegion`` before the model: a member for the region vote of per-region models.
    """
    try:
        builder = MODEL_BUILDERS[name]
    except (KeyError, TypeError):
        raise FERError(f"unknown model {name!r}; known models: {', '.join(MODEL_BUILDERS)}") from None
    family = MODEL_FAMILIES.get(name)
    shape = kwargs.get("input_shape", (48, 48, 1))
    if family is not None and isinstance(shape, (tuple, list)) and len(shape) == 3 and all(
            isinstance(side, int) for side in shape[:2]) and min(shape[:2]) < family.min_input:
        raise FERError(f"input_shape {tuple(shape)} is too small for {name}: each side must be at least "
                       f"{family.min_input} pixels")
    width = kwargs.pop("width", 1.0) if not takes_width(name) else 1.0
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
        raise FERError(f"width must be a number in (0, 4], got {width!r}")
    if width != 1.0 and kwargs.get("weights") is not None:
        raise FERError(f"width={width} rebuilds {name} with random weights: it does not combine with weights=")
    region = kwargs.pop("region", "whole")
    if region not in VOTE_REGIONS:
        raise FERError(f"unknown face region {region!r}; expected one of {', '.join(VOTE_REGIONS)}")
    model = builder(**kwargs)
    model = model if width == 1.0 else scale_width(model, width)
    return model if region == "whole" else on_region(model, region)


def on_region(model, region):
    """``model`` behind a ``FaceRegion(region)`` layer: it takes whole 48×48 faces and sees one region."""
    from fer_keras.models.layers import FaceRegion

    inputs = keras.Input(model.inputs[0].shape[1:], name="face")
    return keras.Model(inputs, model(FaceRegion(region, name=f"{region}_region")(inputs)),
                       name=f"{model.name}_{region}")


def model_overrides(name, assignments):
    """``model.KEY=VALUE`` assignments (the CLI's ``--set``) as keyword arguments of model ``name``'s
    builder: each KEY must be one of its parameters; VALUE is read as a Python literal (a number,
    a tuple, None) or else kept as text — but a parameter whose default is a bool takes only
    true/false (any case, or 1/0, yes/no), so "false" can never arrive as a (truthy) string. A
    one-line error names a wrong key or value."""
    import ast
    import inspect

    parameters = dict(inspect.signature(MODEL_BUILDERS[name]).parameters)
    parameters.setdefault("width", inspect.Parameter("width", inspect.Parameter.KEYWORD_ONLY, default=1.0))
    parameters.setdefault("region", inspect.Parameter("region", inspect.Parameter.KEYWORD_ONLY, default="whole"))
    settable = [p for p in parameters if p not in ("input_shape", "num_classes", "binary", "auxiliary", "name")]
    kwargs = {}
    for assignment in assignments:
        key, sep, text = assignment.removeprefix("model.").partition("=")
        if not sep or key not in settable:
            raise FERError(f"--set {assignment!r}: {name} takes model.KEY=VALUE with KEY one of {', '.join(settable)}")
        if isinstance(parameters[key].default, bool):
            flags = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
            if text.strip().lower() not in flags:
                raise FERError(f"--set {assignment!r}: {key} takes true or false, got {text!r}")
            kwargs[key] = flags[text.strip().lower()]
            continue
        try:
            kwargs[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            kwargs[key] = text
        if isinstance(parameters[key].default, (int, float)) and not _finite_number(kwargs[key]) \
                and kwargs[key] is not None:
            raise FERError(f"--set {assignment!r}: {key} takes a finite number, got {text!r}")
    return kwargs


def _finite_number(value):
    """Whether ``value`` is an int or float (not a bool) that is neither NaN nor infinite; ``nan`` and
    ``inf`` arrive as text (``ast.literal_eval`` does not read them) and are refused as well."""
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def unfreeze_backbone(model, n):
    """Apply the unfreeze policy of ``model``'s family: the last ``n`` layers of the nested backbone
    its family names (``ModelFamily.backbone``) trainable, BatchNorm kept frozen. The backbone is found
    by name in ``model``, so a renamed model or a training model with auxiliary outputs is served too.
    Returns ``model``; recompile it before training."""
    backbones = [family.backbone for family in MODEL_FAMILIES.values() if family.backbone]
    present = {layer.name for layer in model.layers} & set(backbones)
    if not present:
        raise FERError(f"model {model.name!r} has no backbone layer {' or '.join(map(repr, backbones))} to unfreeze "
                       "(ModelFamily.backbone)")
    return unfreeze_last_layers(model, n, base=present.pop())


AUX_LOSS_WEIGHT = 0.3
"""The weight of each auxiliary classifier's loss in the training loss (Szegedy et al. 2015, §5)."""


def inference_model(model):
    """The one-output model of ``model``: itself, or, for a training model with auxiliary outputs,
    ``keras.Model(inputs, predictions)`` sharing its layers and weights (what a run saves)."""
    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.get_layer(MAIN_OUTPUT).output, name=model.name)


def compile_model(model, optimizer="adam", learning_rate=1e-3, binary=None, label_smoothing=0.0,
                  steps_per_execution=1):
    """Compile with the seeds' recipe: ``optimizer`` (a name built with ``learning_rate``, or an
    optimizer instance used as is), categorical cross-entropy with ``label_smoothing`` (binary
    cross-entropy for a one-unit sigmoid head) and accuracy. ``binary=None`` reads it from the
    model's output width. ``steps_per_execution``: training steps per call into the backend.

    A training model with auxiliary outputs gets the same loss on each, weighted 1 for
    ``predictions`` and ``AUX_LOSS_WEIGHT`` for each of ``AUX_OUTPUTS`` (its ``loss`` is their sum),
    and accuracy on ``predictions`` only (logged as ``predictions_accuracy``). Returns the model.
    """
    one_unit = model.outputs[0].shape[-1] == 1
    if binary is None:
        binary = one_unit
    elif bool(binary) != one_unit:
        raise FERError(
            f"binary={binary} does not match model {model.name!r}, whose output has "
            f"{model.outputs[0].shape[-1]} unit(s)"
        )
    if isinstance(optimizer, str):
        try:
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})
        except ValueError:
            raise FERError(f"unknown optimizer {optimizer!r}; use a Keras optimizer name such as 'adam'") from None
    loss = "binary_crossentropy" if binary else "categorical_crossentropy"
    if label_smoothing and not binary:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    if len(model.outputs) > 1:
        weights = {MAIN_OUTPUT: 1.0, **{name: AUX_LOSS_WEIGHT for name in AUX_OUTPUTS}}
        model.compile(optimizer=optimizer, loss={name: loss for name in weights}, loss_weights=weights,
                      metrics={MAIN_OUTPUT: ["accuracy"]}, steps_per_execution=steps_per_execution)
        return model
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"], steps_per_execution=steps_per_execution)
    return model
