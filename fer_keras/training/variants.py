"""Named experiments as data: model + cleaning + split + balancing + hyper-parameters + reference.

Adding a thesis variation or a paper's table row is adding one entry to ``VARIANTS``; a model family
that no entry trains (a plug-in's) gets a default variant named after it (``family_defaults``).
``python -m fer_keras.train --list`` prints them.
"""

from dataclasses import asdict, dataclass, field, fields, replace

from fer_keras import EMOTIONS
from fer_keras.errors import FERError
from fer_keras.models.presets import CPU_PRESETS, SIZES
from fer_keras.models.registry import MODEL_FAMILIES
from fer_keras.training.callbacks import CallbackConfig
from fer_keras.training.stages import Stage, stages_from_records

# cleaning step names: keys of fer_keras.data.eda.CLEANING_STEPS
DEDUPE = ("remove_duplicates",)
NO_CONFLICTS = ("remove_duplicates_with_diff_emotion",)
NO_OUTLIERS = ("drop_outlier_images",)
FILTERED = NO_CONFLICTS + DEDUPE + NO_OUTLIERS


@dataclass(frozen=True)
class Variant:
    """One named experiment. ``epochs`` is the paper's; ``demo_epochs`` applies on the synthetic set.
    ``stages`` (``fer_keras.training.stages.Stage``): a run in stages, each ``epochs`` long unless it says."""

    name: str
    model: str
    description: str
    reference: str
    cleaning: tuple = ()
    split: str = "usage"
    sampling: str = "none"
    protocol: str = "honest"
    binary_emotion: str | None = None
    learning_rate: float = 1e-3
    batch_size: int = 32
    epochs: int = 100
    demo_epochs: int = 12
    augment_in_training: bool = False
    recipe: str = "paper"
    callbacks: CallbackConfig = field(default_factory=CallbackConfig)
    stages: tuple = ()

    def __post_init__(self):
        from fer_keras.data.eda import check_cleaning

        object.__setattr__(self, "cleaning", check_cleaning(self.cleaning))
        object.__setattr__(self, "stages", stages_from_records(self.stages))

    @property
    def binary(self):
        return self.binary_emotion is not None

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, recorded):
        """The variant a run recorded (``to_dict``'s record in its ``config.json``), as it was when the run
        was made, even if ``VARIANTS`` has changed since; a record with fields this version does not know,
        or lacks, is one FERError line."""
        unknown = sorted(set(recorded) - {f.name for f in fields(cls)})
        if unknown:
            raise FERError(f"the run's config.json records variant fields this version of fer_keras does not know "
                           f"({', '.join(unknown)}); evaluate it with the fer_keras version that trained it")
        record = dict(recorded)
        try:
            record["cleaning"] = tuple(record.get("cleaning", ()))
            if isinstance(record.get("callbacks"), dict):
                record["callbacks"] = CallbackConfig(**record["callbacks"])
            return cls(**record)
        except TypeError as err:  # a missing or mistyped field
            raise FERError(f"the run's config.json records a variant this version of fer_keras cannot rebuild "
                           f"({err}); evaluate it with the fer_keras version that trained it, or train it again"
                           ) from None


CNN_LSTM_CALLBACKS = CallbackConfig(lr_monitor="val_loss", lr_factor=0.1, lr_patience=2, lr_min_delta=1e-4,
                                    early_stopping_patience=5)
VIT_CALLBACKS = CallbackConfig(lr_monitor="val_loss", lr_factor=0.1, lr_patience=2, early_stopping_patience=4)


def _bialek_callbacks(patience):
    return CallbackConfig(lr_monitor="val_accuracy", lr_factor=0.4, lr_patience=patience, lr_min_delta=0.0,
                          early_stopping_patience=None, checkpoint_monitor="val_accuracy")


def _thesis_variants():
    """Ismail (2022): CNN-LSTM variations 1–5 (§8.5) and the attention ViT (§8.6), × sampling."""
    variations = [
        ("v1_regular", (), "regular data", 8),
        ("v2_no_duplicates", DEDUPE, "exact duplicates removed", 5),
        ("v3_no_conflicts", NO_CONFLICTS, "conflicting-label duplicates removed", 5),
        ("v4_no_outliers", NO_OUTLIERS, "outlier images removed", 5),
        ("v5_final", NO_CONFLICTS + NO_OUTLIERS, "final: conflicts and outliers removed (3 + 4)", 5),
    ]
    samplings = ("ros", "smote", "class_weight", "none")
    out = [Variant(name="cnn_lstm_first", model="cnn_lstm_first", description="CNN-LSTM, first form, regular data",
                   reference="Ismail 2022 thesis §8.1 (reconstructed)", learning_rate=2e-3, batch_size=64,
                   epochs=100, demo_epochs=10, callbacks=replace(CNN_LSTM_CALLBACKS, early_stopping_patience=8))]
    for tag, cleaning, what, patience in variations:
        for sampling in samplings:
            suffix = "" if sampling == "ros" else f"_{sampling}"
            out.append(Variant(
                name=f"cnn_lstm_{tag}{suffix}", model="cnn_lstm", cleaning=cleaning, sampling=sampling,
                description=f"CNN-LSTM, {what}, {sampling}",
                reference=f"Ismail 2022 thesis §8.5 variation {tag[1]}", learning_rate=2e-3, batch_size=64,
                epochs=100, callbacks=replace(CNN_LSTM_CALLBACKS, early_stopping_patience=patience)))
    for sampling in samplings:
        suffix = "" if sampling == "ros" else f"_{sampling}"
        out.append(Variant(
            name=f"attention_vit{suffix}", model="attention_vit", cleaning=NO_CONFLICTS + NO_OUTLIERS,
            sampling=sampling, description=f"attention 'ViT' (conv + multi-head attention), final data, {sampling}",
            reference="Ismail 2022 thesis §8.6", learning_rate=2e-4, batch_size=64, epochs=100, demo_epochs=15,
            callbacks=VIT_CALLBACKS))
    for base in ("cnn_lstm_v5_final", "attention_vit"):
        honest = next(v for v in out if v.name == base)
        out.append(replace(honest, name=f"{base}_thesis_protocol", protocol="thesis", split="stratified",
                           description=f"{honest.description} — LEAKY thesis protocol (over-sample, then split)"))
    return out


def _bialek_variants():
    """Białek et al. (2023): four models × original / balanced / filtered / balanced+filtered."""
    models = [
        ("five_layer", "five_layer_cnn", 1e-3, "Table 3"),
        ("six_layer", "six_layer_cnn", 1e-3, "Table 5"),
        ("vgg16", "vgg16_transfer", 1e-4, "Table 7"),
        ("resnet50", "resnet50_transfer", 1e-4, "Table 8"),
    ]
    datasets = [
        ("original", (), "none"),
        ("balanced", (), "augment"),
        ("filtered", FILTERED, "none"),
        ("balanced_filtered", FILTERED, "augment"),
    ]
    out = []
    for short, model, lr, table in models:
        custom = model.endswith("cnn")
        for tag, cleaning, sampling in datasets:
            patience = 10 if custom and sampling == "augment" else 5
            out.append(Variant(
                name=f"{short}_{tag}", model=model, cleaning=cleaning, sampling=sampling,
                description=f"Białek {short.replace('_', '-')} on {tag.replace('_', '+')} FER2013",
                reference=f"Białek et al. 2023 {table}", learning_rate=lr, batch_size=32, epochs=100,
                demo_epochs=8, augment_in_training=True, callbacks=_bialek_callbacks(patience)))
    for emotion in EMOTIONS:
        for short, model, lr, epochs in [("five_layer", "five_layer_cnn", 1e-3, 200),
                                         ("six_layer", "six_layer_cnn", 1e-3, 200),
                                         ("resnet50", "resnet50_transfer", 1e-4, 100)]:
            out.append(Variant(
                name=f"binary_{emotion}_{short}", model=model, cleaning=FILTERED, binary_emotion=emotion,
                description=f"one-vs-rest {emotion} (sigmoid head), {short.replace('_', '-')}, filtered data",
                reference="Białek et al. 2023 §3.5, §4.4", learning_rate=lr, batch_size=32, epochs=epochs,
                demo_epochs=6, augment_in_training=True,
                callbacks=_bialek_callbacks(10 if model.endswith("cnn") else 5)))
    return out


BASELINE = Variant(
    name="baseline_cnn", model="baseline_cnn", cleaning=FILTERED, learning_rate=1e-3, batch_size=64, epochs=60,
    demo_epochs=15, description="small 3-block CNN on filtered data: the fast yardstick (trains in minutes on a CPU)",
    reference="this project's baseline",
    callbacks=CallbackConfig(lr_monitor="val_loss", lr_factor=0.5, lr_patience=3, early_stopping_patience=8))

BASELINE_LEAKAGE_PAIR = [
    replace(BASELINE, name="baseline_cnn_ros", sampling="ros",
            description="baseline CNN, filtered data, ros on the training split only (honest)"),
    replace(BASELINE, name="baseline_cnn_thesis_protocol", sampling="ros", protocol="thesis", split="stratified",
            description="baseline CNN, filtered data, ros — LEAKY thesis protocol (over-sample, then split)"),
]
"""The thesis' leakage at baseline speed: the same model and data, split-then-ROS against ROS-then-split."""

FERNET = [
    Variant(name=f"fernet_{size}", model=f"fernet_{size}", recipe="modern_sgd", batch_size=64, epochs=60,
            demo_epochs=15,
            description=f"FERNet-{size.upper()}, this project's CPU model, modern_sgd recipe; train = Training minus "
            "copies of test images, test = the full PrivateTest (comparable with fer's bundled model)",
            reference="this project (issue 12)",
            callbacks=CallbackConfig(early_stopping_patience=None, checkpoint_monitor="val_accuracy"))
    for size in ("t", "s", "m")
]
"""FER2013 models trained on a CPU by the modern_sgd recipe (FERNet-S's); select them with ``--time-budget``."""


def _trinh_protocol_variants():
    """Trinh et al.'s (2023) protocol — 20 % of Training validates (split "training_holdout"), class
    weights, Keras augmentation — for their GoogLeNet, ResNet50V2 model and ViT and for Bakiasi &
    Muça's (2024) single models (whose figures are on AffectNet, 224×224 RGB, not FER2013)."""
    models = [
        ("googlenet_trinh", "googlenet", 1e-3, 60, 8, "GoogLeNet (auxiliary classifiers in training, 48×48 stem)",
         "Trinh et al. 2023: 55 % on FER2013 (60 epochs)"),
        ("resnet50v2_trinh", "resnet50v2_trinh", 1e-4, 25, 3, "ResNet50V2-based model",
         "Trinh et al. 2023 §2.1.2: 68 % on FER2013 (25 epochs)"),
        ("patch_vit_trinh", "patch_vit", 1e-3, 30, 12, "patch ViT from scratch (CPU-sized)",
         "Trinh et al. 2023: 69 % on FER2013 with a pretrained ViT-Base (30 epochs)"),
        ("spp_net_trinh", "spp_net", 1e-3, 30, 12, "SPP-net",
         "Bakiasi & Muça 2024: 78.5 % on AffectNet (member of the 85.2 % vote)"),
        ("inceptionv3_trinh", "inceptionv3_transfer", 1e-4, 30, 3, "InceptionV3 transfer model",
         "Bakiasi & Muça 2024: 80.5 % on AffectNet (member of the 85.2 % vote)"),
    ]
    return [Variant(name=name, model=model, split="training_holdout", sampling="class_weight", augment_in_training=True,
                    description=f"{what}, Trinh's protocol: 20 % of Training validates, class weights, augmentation",
                    reference=reference, learning_rate=lr, batch_size=32, epochs=epochs, demo_epochs=demo_epochs)
            for name, model, lr, epochs, demo_epochs, what, reference in models]


def _ensemble_report_variants():
    """The published models of Berindeie's (2024) ensemble report, with their papers' settings as far
    as a variant expresses them (each description says what differs)."""
    return [
        Variant(name="resemotenet", model="resemotenet", learning_rate=1e-3, batch_size=16, epochs=80, demo_epochs=3,
                description="ResEmoteNet (64×64 in the graph), from scratch; the paper trains with SGD 1e-3, "
                "momentum 0.9, weight decay 1e-4 and horizontal flips: the 'paper' recipe here is Adam 1e-3 "
                "without augmentation (closest: --set optimizer=sgd --set weight_decay=1e-4, Nesterov)",
                reference="Roy et al. 2024: 79.79 % on FER2013 (not reproducible on the standard splits; "
                "public reports 58–66 %)",
                # a constant learning rate, as the paper's: no plateau within the run
                callbacks=CallbackConfig(lr_monitor="val_accuracy", lr_factor=0.1, lr_patience=1000,
                                         early_stopping_monitor="val_accuracy", early_stopping_patience=15,
                                         checkpoint_monitor="val_accuracy")),
        Variant(name="pattlite", model="pattlite", sampling="class_weight", learning_rate=1e-3, batch_size=8,
                epochs=100, demo_epochs=3,
                description="PAtt-Lite (attention across patch tokens, not the batch), first stage: backbone "
                "frozen, Adam 1e-3, class weights; pass --set model.weights=imagenet (or a local file) for the "
                "paper's ImageNet backbone; the paper's global clip-norm 3 and flip/contrast augmentation are "
                "not part of this variant, its second stage is pattlite_finetune's",
                reference="Ngwe et al. 2024 (RAF-DB 95.05 %, FERPlus 95.55 %, CK+ 100 %)",
                callbacks=CallbackConfig(lr_monitor="val_accuracy", lr_factor=0.1, lr_patience=3, lr_min_delta=3e-3,
                                         early_stopping_monitor="val_accuracy", early_stopping_patience=5,
                                         checkpoint_monitor="val_accuracy")),
        *[Variant(name=model, model=model, learning_rate=1e-4, batch_size=48, epochs=50, demo_epochs=3,
                  description=f"{what} from scratch at 48×48 (small stem; --set model.width=0.25 for a CPU-sized "
                  "model); the authors train at 224×224 RGB (ResNet34 from ImageNet weights) with lr 1e-4, "
                  "momentum 0.9, weight decay 1e-3: the 'paper' recipe here is Adam 1e-4",
                  reference=reference,
                  callbacks=CallbackConfig(lr_monitor="val_accuracy", lr_factor=0.1, lr_patience=2,
                                           early_stopping_monitor="val_accuracy", early_stopping_patience=8,
                                           checkpoint_monitor="val_accuracy"))
          for model, what, reference in [
              ("resnet34", "ResNet34", "Pham et al. 2020: 72.42 % on FER2013"),
              ("cbam_resnet34", "CBAM-ResNet34",
               "Woo et al. 2018; Pham et al. 2020's CBAM model is ResNet50-based (73.39 % on FER2013)"),
              ("rmn", "Residual Masking Network", "Pham et al. 2020: 74.14 % on FER2013 (76.82 % in an ensemble of 7)"),
          ]],
    ]


PATTLITE_STAGES = (Stage("train"), Stage("train", unfreeze=59, learning_rate=1e-5))
"""PAtt-Lite's two stages: the backbone frozen; then all of it but BatchNorm trainable (the paper's
59 layers, ``models.pattlite.PAPER_UNFREEZE``) at Adam 1e-5, from the first stage's best checkpoint."""


def _pattlite_finetune(variants):
    first = next(v for v in variants if v.name == "pattlite")
    return replace(first, name="pattlite_finetune", stages=PATTLITE_STAGES,
                   description="PAtt-Lite in the paper's two stages, each --epochs long: backbone frozen at Adam "
                   "1e-3, then unfreeze_last_layers (BatchNorm kept frozen) at Adam 1e-5 from stage 1's best "
                   "checkpoint; --set model.weights=imagenet for the paper's backbone")


_ALL = ([BASELINE, *BASELINE_LEAKAGE_PAIR, *FERNET] + _thesis_variants() + _bialek_variants()
        + _trinh_protocol_variants() + _ensemble_report_variants())


def family_defaults(variants, families):
    """A default variant for each family in ``families`` that none of ``variants`` trains — a plug-in
    family's —, so that adding a family needs no entry here: named after the family, on the Usage
    split with the ``Variant`` defaults, overridden by the family's own ``ModelFamily.variant`` fields."""
    trained = {v.model for v in variants}
    taken = {v.name for v in variants}
    out = []
    for family in families.values():
        if family.name in trained:
            continue
        if family.name in taken:
            raise FERError(f"model family {family.name!r} has no variant, and its default variant's name is taken")
        fields = {"description": f"{family.name}: the family's default variant", "reference": family.paper,
                  **family.variant}
        out.append(Variant(name=family.name, model=family.name, **fields))
    return out


_ALL += [_pattlite_finetune(_ALL)]
VARIANTS = {v.name: v for v in _ALL + family_defaults(_ALL, MODEL_FAMILIES)}
DEFAULT_VARIANT = "baseline_cnn"
"""The CLI's default: the only variant that trains to a meaningful accuracy in minutes on 2 CPU cores."""


def get_variant(name):
    """The variant called ``name``; an unknown name gets the closest matches in the error."""
    if name in VARIANTS:
        return VARIANTS[name]
    import difflib

    close = difflib.get_close_matches(name, VARIANTS, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise FERError(f"unknown variant {name!r}; {hint}run `python -m fer_keras.train --list` to see all {len(VARIANTS)}")


OVERSAMPLINGS = ("ros", "smote", "augment")
"""Balancing that adds copies to the training split: at the CPU size an epoch goes to real faces instead."""


def at_size(variant, size):
    """``(variant, preset, deviations)``: ``variant`` as trained at ``size`` ("paper": unchanged; "cpu": its
    family's ``models.presets.CpuPreset``, validated on PublicTest — a Training hold-out split becomes the
    Usage split — with no over-sampling and the preset recipe's augmentation instead of the variant's),
    the preset (``None`` for "paper") and what differs from the paper, in words."""
    if size not in SIZES:
        raise FERError(f"unknown --size {size!r}; expected one of {', '.join(SIZES)}")
    if size == "paper":
        return variant, None, []
    preset = CPU_PRESETS[variant.model]
    deviations = [f"CPU size: {preset.describe()}"]
    changes = {"augment_in_training": False, "recipe": preset.base_recipe}
    if variant.split == "training_holdout":
        changes["split"] = "usage"
        deviations.append("validated on PublicTest (the paper holds out 20 % of Training)")
    if variant.sampling in OVERSAMPLINGS and not variant.binary:
        changes["sampling"] = "none"
        deviations.append(f"no {variant.sampling} over-sampling")
    return replace(variant, **changes), preset, deviations
