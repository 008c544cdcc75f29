"""One registry of model families, as data: ``MODEL_FAMILIES``, ``build_model(name, **kwargs)`` and
``compile_model``. Adding a family is one builder file and one entry here; the tests run over the
registry (shapes, parameter totals, minimum input, safe-mode save/reload)."""

from dataclasses import dataclass
from typing import Callable

import keras

from fer_keras.data.regions import VOTE_REGIONS
from fer_keras.errors import FERError
from fer_keras.models.attention import build_attention_vit
from fer_keras.models.blocks import AUX_OUTPUTS, MAIN_OUTPUT, scale_width
from fer_keras.models.cnn import build_baseline_cnn, build_five_layer_cnn, build_six_layer_cnn
from fer_keras.models.cnn_lstm import build_cnn_lstm, build_cnn_lstm_first
from fer_keras.models.fernet import fernet_preset
from fer_keras.models.googlenet import build_googlenet
from fer_keras.models.inception import build_inceptionv3_transfer
from fer_keras.models.pattlite import build_pattlite
from fer_keras.models.resemotenet import build_resemotenet
from fer_keras.models.rmn import build_cbam_resnet34, build_resnet34, build_rmn
from fer_keras.models.spp import build_spp_net
from fer_keras.models.transfer import build_resnet50_transfer, build_vgg16_transfer
from fer_keras.models.trinh import build_resnet50v2_trinh
from fer_keras.models.vit import build_patch_vit


@dataclass(frozen=True)
class ModelFamily:
    """A registered model: its builder and the facts about it that tests and tools rely on.

    parameters:    (total, trainable, non-trainable) at 48×48×1, 7 classes, ``weights=None``.
    min_input:     the smallest image side the builder accepts (``build_model`` checks it).
    preprocessing: what the model does to its [0, 1] grey input before its base: "none", or (resize,
                   grey → RGB, then, in the graph) "caffe" (×255, BGR mean subtracted), "tf" ([-1, 1])
                   or "torch" (ImageNet mean/std); see ``transfer.grey_to_base_input``.
    aux_outputs:   whether training adds auxiliary outputs that the saved inference model drops: the
                   builder then takes ``auxiliary=True`` and returns [predictions, *AUX_OUTPUTS]
                   (``parameters`` are the inference model's).
    """

    builder: Callable
    paper: str
    parameters: tuple
    min_input: int = 8
    preprocessing: str = "none"
    aux_outputs: bool = False


MODEL_FAMILIES = {
    "baseline_cnn": ModelFamily(build_baseline_cnn, "this project's small yardstick", (684_935, 684_231, 704)),
    "five_layer_cnn": ModelFamily(build_five_layer_cnn, "Białek et al. 2023, Table 3",
                                  (16_307_207, 16_299_783, 7_424), min_input=32),
    "six_layer_cnn": ModelFamily(build_six_layer_cnn, "Białek et al. 2023, Table 5",
                                 (34_545_159, 34_535_175, 9_984), min_input=32),
    "vgg16_transfer": ModelFamily(build_vgg16_transfer, "Białek et al. 2023, Table 7",
                                  (16_794_823, 6_795_911, 9_998_912), preprocessing="caffe"),
    "resnet50_transfer": ModelFamily(build_resnet50_transfer, "Białek et al. 2023, Table 8 (states 27,771,847)",
                                     (27_798_407, 27_745_287, 53_120), preprocessing="caffe"),
    "cnn_lstm": ModelFamily(build_cnn_lstm, "Ismail 2022 thesis §8.5 (text; states 457,031)",
                            (474_247, 473_415, 832), min_input=16),
    "cnn_lstm_first": ModelFamily(build_cnn_lstm_first, "Ismail 2022 thesis §8.1 (reconstructed)",
                                  (143_431, 142_983, 448), min_input=16),
    "attention_vit": ModelFamily(build_attention_vit, "Ismail 2022 thesis §8.6 (text; states 197,799)",
                                 (324_567, 324_567, 0)),
    "resnet50v2_trinh": ModelFamily(build_resnet50v2_trinh, "Trinh et al. 2023, §2.1.2",
                                    (29_996_231, 29_946_567, 49_664), preprocessing="tf"),
    "patch_vit": ModelFamily(build_patch_vit, "Dosovitskiy et al. 2021; Trinh et al. 2023 (CPU-sized, from scratch)",
                             (315_463, 315_463, 0), min_input=16),
    "spp_net": ModelFamily(build_spp_net, "He et al. 2015; Bakiasi & Muça 2024 (member of the vote)",
                           (3_147_431, 3_145_447, 1_984)),
    "inceptionv3_transfer": ModelFamily(build_inceptionv3_transfer,
                                        "Szegedy et al. 2016; Bakiasi & Muça 2024 (member of the vote)",
                                        (21_817_127, 21_782_695, 34_432), preprocessing="tf"),
    "googlenet": ModelFamily(build_googlenet, "Szegedy et al. 2015; Trinh et al. 2023 (55 %, 60 epochs)",
                             (5_993_735, 5_979_175, 14_560), aux_outputs=True),
    "fernet_t": ModelFamily(fernet_preset("t"), "this project (issue 12)", (295_575, 294_615, 960), min_input=16),
    "fernet_s": ModelFamily(fernet_preset("s"), "this project (issue 12)", (1_176_359, 1_174_439, 1_920),
                            min_input=16),
    "fernet_m": ModelFamily(fernet_preset("m"), "this project (issue 12)", (2_642_359, 2_639_479, 2_880),
                            min_input=16),
    "resemotenet": ModelFamily(build_resemotenet, "Roy et al. 2024 (authors' code; 80,238,599 learnable)",
                               (80_260_999, 80_238_599, 22_400), preprocessing="torch"),
    "pattlite": ModelFamily(build_pattlite, "Ngwe et al. 2024 (1.10 M; attention across patch tokens, not the batch)",
                            (1_102_664, 280_648, 822_016), preprocessing="tf"),
    "resnet34": ModelFamily(build_resnet34, "He et al. 2016; Pham et al. 2020's 72.42 % (48×48, small stem)",
                            (21_296_455, 21_279_431, 17_024)),
    "cbam_resnet34": ModelFamily(build_cbam_resnet34, "Woo et al. 2018 on ResNet34 (48×48, small stem)",
                                 (21_459_283, 21_442_227, 17_056)),
    "rmn": ModelFamily(build_rmn, "Pham et al. 2020 (states 142.9 M at 224; 48×48, small stem here)",
                       (137_865_415, 137_787_591, 77_824), min_input=16),
}
"""Model name → family. Every builder takes ``input_shape``, ``num_classes``, ``binary``, ``name``."""

MODEL_BUILDERS = {name: family.builder for name, family in MODEL_FAMILIES.items()}
"""Model name → builder (a view of ``MODEL_FAMILIES``)."""


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
    return kwargs


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
