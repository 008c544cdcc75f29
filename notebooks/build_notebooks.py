"""The template notebooks, from two templates: ``python notebooks/build_notebooks.py``.

A single-model notebook (01–06, 12, 13) is one variation's story (its first cell) and its default
``VARIANT``; a family notebook (14–16) trains and compares a list of ``VARIANTS``, each with its own
builder arguments (``MODEL_KWARGS``), and may end with cells of its own. Every other cell is shared,
so a change to how a variation is trained or reported is made once. ``tests/test_notebooks.py``
checks that the committed notebooks are this script's output.

The results notebooks train nothing and are committed executed: 17 (the whole zoo at CPU size) and one
per seed family, ``zoo/<family>.ipynb`` (``zoo_notebook``; the family list is taken from ``results/`` and
the registry when the script runs). ``python notebooks/build_notebooks.py --execute`` rewrites and
executes them all from ``results/``; without ``--execute`` they are only written when missing.
"""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

COMMON_PARAMETERS = """\
DATA = "synthetic"           # "synthetic" (embedded demo set), a Kaggle CSV (.csv / .gz / .xz) or an image folder
EPOCHS = None                # None: the variant's demo epochs on synthetic data, the paper's on real data
PER_CLASS = None             # balancing target of "augment" / one-vs-rest variants (None: 8000 / 6000, demo: largest class)
SEED = 0
OUTPUT_DIR = "../callbacks"  # checkpoints (best.keras), TensorBoard logs, history.csv, config.json
RESULTS_DIR = "../results"   # metrics.json, report.md, confusion matrix, curves, saliency grid
TIMING_CALLS = 50            # Białek's inference protocol: mean of 50 predict calls on 1000 test images (0 skips)
MIXED_PRECISION = False      # mixed_float16 on a GPU (ignored, with a note, on a CPU)
SALIENCY_METHOD = "gradcam"  # "gradient", "gradcam" or "occlusion"
SALIENCY_IMAGES = 16
"""

PARAMETERS = COMMON_PARAMETERS + """\
VARIANT = "{variant}"  # {choices}"""

SINGLE_MODEL_KWARGS = """
MODEL_KWARGS = {model_kwargs}  # keyword arguments of the model's builder{hint}"""
"""The builder-arguments parameter of a single-model notebook whose spec sets ``model_kwargs``."""

MODEL_IMPORT = """
from fer_keras.models import MODEL_FAMILIES, build_model  # noqa: E402"""
"""Imported by the notebooks that take ``MODEL_KWARGS``: they build their models before training."""

MODEL_CELLS = [  # a single-model notebook with MODEL_KWARGS: after the recipe
    ("markdown", """\
## The model

Built with `MODEL_KWARGS` (the paper's size without them); the registry (`fer_keras.models.MODEL_FAMILIES`) records its paper and its parameter totals at the paper's size (`ModelFamily.facts()`)."""),
    ("code", """\
build_model(variant.model, **MODEL_KWARGS).summary(line_length=110)
pd.Series(MODEL_FAMILIES[variant.model].facts(), dtype=object).to_frame("registry")"""),
]

FAMILY_PARAMETERS = COMMON_PARAMETERS + """\
VARIANTS = {variants}
MODEL_KWARGS = {model_kwargs}  # variant → keyword arguments of its model's builder{hint}"""

SAMPLING_CELL = """\
from fer_keras.training.variants import VARIANTS as ALL_VARIANTS

[name for name in ALL_VARIANTS if name.startswith("{variant}")]  # its sampling variants"""

SHARED_BEFORE = [  # after the story and the parameters
    ("code", """\
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from fer_keras.cli import import_keras_quietly

import_keras_quietly()  # keeps TensorFlow's C++ start-up lines out of the notebook
from fer_keras.evaluation.evaluate import evaluate_run  # noqa: E402
from fer_keras.evaluation.results import collect, paper_figure  # noqa: E402
from fer_keras.evaluation.saliency import run_saliency  # noqa: E402
from fer_keras.training.train import train  # noqa: E402
from fer_keras.training.variants import get_variant  # noqa: E402"""),
    ("markdown", """\
## The recipe

The variant is data (`fer_keras/training/variants.py`): model, cleaning steps, split, balancing, learning rate, batch size, epochs and callback settings."""),
    ("code", """\
variant = get_variant(VARIANT)
print(f"{variant.name}: {variant.description} [{variant.reference}]")
print("the paper:", paper_figure(VARIANT) or "no figure for this exact variant (see above)")
pd.Series(variant.to_dict(), dtype=object).to_frame("setting")"""),
]

SHARED_AFTER = [  # after the variant's own cells
    ("markdown", """\
## Train

`train` cleans, splits, balances the training split, fits with the callback suite and tests the best checkpoint; it returns what it wrote to `metrics.json`."""),
    ("code", """\
metrics = train(VARIANT, data=DATA, epochs=EPOCHS, mixed_precision=MIXED_PRECISION, seed=SEED,
                output_dir=OUTPUT_DIR, results_dir=RESULTS_DIR, per_class=PER_CLASS{model_kwargs})
run_dir = Path(metrics["run_dir"])
out_dir = Path(RESULTS_DIR) / run_dir.name"""),
    ("markdown", """\
## Evaluate

Accuracy, precision / recall / F1 (macro, weighted, per class), the confusion matrix, the training curves and the inference time (`TIMING_CALLS` predict calls on up to 1000 test images, batch 32); then saliency maps of `SALIENCY_IMAGES` test images."""),
    ("code", """\
evaluation = evaluate_run(run_dir, results_dir=RESULTS_DIR, n_calls=TIMING_CALLS)
saliency_png = run_saliency(run_dir, n=SALIENCY_IMAGES, method=SALIENCY_METHOD, results_dir=RESULTS_DIR, seed=SEED)"""),
    ("markdown", """\
## Results

Accuracy and precision / recall / F1 in %, next to the paper's figure (`paper_accuracy`)."""),
    ("code", "pd.DataFrame(collect(RESULTS_DIR)).set_index(\"run\").loc[[run_dir.name]].T"),
    ("code", "pd.DataFrame(evaluation[\"per_class\"]).T"),
    ("code", """\
display(Image(filename=out_dir / "confusion_matrix.png"))
display(Image(filename=out_dir / "curves.png"))
display(Image(filename=saliency_png))"""),
    ("markdown", """\
Everything above is in `RESULTS_DIR/<run>/` (`report.md` links it together). `python -m fer_keras.results` adds the run to `results/README.md`, next to the papers' figures."""),
]

CNN_LSTM_STORY = """\
**The model** (thesis §8.5, the final CNN-LSTM): five Conv2D → BatchNorm → ReLU blocks (32, 64, 64,
128, 128 filters, max-pooling and dropout 0.1 between them), the 5×5×128 map read as a 25-step
sequence by LSTM 128 → LSTM 64, then Dense 200 → Dense 7 softmax. Adam 2e-3, batch 64;
ReduceLROnPlateau on val_loss (factor 0.1, patience 2), EarlyStopping on val_loss. Built from the
text it has 473,415 trainable parameters; the thesis states 457,031.

**Sampling** — the `VARIANT` parameter picks it: `{variant}` (random over-sampling, the thesis'
default), `{variant}_smote`, `{variant}_class_weight` or `{variant}_none`.

**Reported** (DESIGN §4): the thesis' CNN-LSTM accuracies run from 78.4 % to **82.7 %** for the
final variation (5) — measured with over-sampling before the split (leaky).

The default protocol is **honest**: the data are split first (copies of an image never straddle
splits), and over-sampling touches the training split only. The thesis over-sampled *before* the
train/test split, so copies of its test images were trained on; its figures compare only with the
`*_thesis_protocol` variants (see `11_leakage_audit.ipynb`).

"""
"""What notebooks 01–05 tell after their own opening: the model, sampling, the thesis' figure."""

RUN_IT = """\
Run it top to bottom. The parameters cell is tagged `parameters`, so
`papermill NOTEBOOK.ipynb out.ipynb -p DATA ../../shared/data/fer2013.csv.gz` works too; the same
experiment from a shell is `python -m fer_keras.train --variant NAME --data PATH` followed by
`python -m fer_keras.evaluate --run callbacks/NAME-TIME`. With `DATA = "synthetic"` every number below
is a smoke test of the pipeline, not a result: point `DATA` at FER2013 for the real thing. Re-running an
interrupted training cell resumes it from its last completed epoch."""
"""How to run every notebook, its last paragraph."""

NOTEBOOKS = {
    "01_cnn_lstm_v1_regular": {
        "variant": "cnn_lstm_v1_regular",
        "choices": "sampling: cnn_lstm_v1_regular (ROS), cnn_lstm_v1_regular_smote, cnn_lstm_v1_regular_class_weight, cnn_lstm_v1_regular_none",
        "cnn_lstm_variation": True,
        "story": """\
# 01 — CNN-LSTM, thesis §8.5 variation 1: regular data

The CNN-LSTM trained on the data as they come: no cleaning. EarlyStopping patience 8 (5 in the later variations).

""",
    },
    "02_cnn_lstm_v2_no_duplicates": {
        "variant": "cnn_lstm_v2_no_duplicates",
        "choices": "sampling: cnn_lstm_v2_no_duplicates (ROS), cnn_lstm_v2_no_duplicates_smote, cnn_lstm_v2_no_duplicates_class_weight, cnn_lstm_v2_no_duplicates_none",
        "cnn_lstm_variation": True,
        "story": """\
# 02 — CNN-LSTM, thesis §8.5 variation 2: exact duplicates removed

`remove_duplicates` keeps the first copy of every group of identical images (FER2013: 1,853 extra copies dropped) before the split.

""",
    },
    "03_cnn_lstm_v3_no_conflicts": {
        "variant": "cnn_lstm_v3_no_conflicts",
        "choices": "sampling: cnn_lstm_v3_no_conflicts (ROS), cnn_lstm_v3_no_conflicts_smote, cnn_lstm_v3_no_conflicts_class_weight, cnn_lstm_v3_no_conflicts_none",
        "cnn_lstm_variation": True,
        "story": """\
# 03 — CNN-LSTM, thesis §8.5 variation 3: conflicting-label duplicates removed

`remove_duplicates_with_diff_emotion` drops every copy of an image whose copies disagree on the emotion (FER2013: 160 rows in 57 groups).

""",
    },
    "04_cnn_lstm_v4_no_outliers": {
        "variant": "cnn_lstm_v4_no_outliers",
        "choices": "sampling: cnn_lstm_v4_no_outliers (ROS), cnn_lstm_v4_no_outliers_smote, cnn_lstm_v4_no_outliers_class_weight, cnn_lstm_v4_no_outliers_none",
        "cnn_lstm_variation": True,
        "story": """\
# 04 — CNN-LSTM, thesis §8.5 variation 4: outliers removed

`drop_outlier_images` drops the images whose mean pixel is above 230 (FER2013: 28 "misleading outliers", mostly blank or text on white).

""",
    },
    "05_cnn_lstm_v5_final": {
        "variant": "cnn_lstm_v5_final",
        "choices": "sampling: cnn_lstm_v5_final (ROS), cnn_lstm_v5_final_smote, cnn_lstm_v5_final_class_weight, cnn_lstm_v5_final_none",
        "cnn_lstm_variation": True,
        "story": """\
# 05 — CNN-LSTM, thesis §8.5 variation 5: final (3 + 4, tuned)

Both cleanings of variations 3 and 4: conflicting-label duplicates and outliers removed. This is the thesis' headline model; on a CPU it trains slowly (about 0.7 GFLOP per image), which is why the quick-start default is `baseline_cnn`.

""",
    },
    "06_attention_vit": {
        "variant": "attention_vit",
        "choices": "or attention_vit_smote, _class_weight, _none, _thesis_protocol",
        "cnn_lstm_variation": False,
        "story": """\
# 06 — Attention "ViT" (thesis §8.6)

The thesis' attention model: Conv2D 32 (2×2) → LayerNorm → MaxPool; Conv2D 64 → LayerNorm →
MaxPool; multi-head self-attention (8 heads, key_dim 8) over the spatial positions; Dense 200 →
LayerNorm; Conv2D 64 → LayerNorm; Conv2D 128 → LayerNorm; the map as a sequence; a second
multi-head attention; Dense 200 → LayerNorm → Dropout 0.2 → Dense 128 → LayerNorm →
GlobalAveragePooling1D → Dense 7 softmax. Adam 2e-4; ReduceLROnPlateau on val_loss (patience 2),
EarlyStopping 4. Built from the text it has 324,567 trainable parameters; the thesis states 197,799.
Data: the final cleaning (conflicting-label duplicates and outliers removed).

**Sampling** — the `VARIANT` parameter: `attention_vit` (random over-sampling), `attention_vit_smote`,
`attention_vit_class_weight`, `attention_vit_none`; `attention_vit_thesis_protocol` reproduces the
thesis' leaky order.

**Reported** (DESIGN §4): **74.97 %** test accuracy — with over-sampling before the split (leaky).

The default protocol is **honest**: the data are split first (copies of an image never straddle
splits), and over-sampling touches the training split only. The thesis over-sampled *before* the
train/test split, so copies of its test images were trained on; its figures compare only with the
`*_thesis_protocol` variants (see `11_leakage_audit.ipynb`).

""",
    },
    "12_resemotenet": {
        "variant": "resemotenet",
        "choices": "its only variant",
        "cnn_lstm_variation": False,
        "model_kwargs": "{}",
        "hint": ', e.g. {"width": 0.25, "base_size": 48} on a CPU',
        "story": """\
# 12 — ResEmoteNet (Roy et al. 2024)

**The model** (Fig. 1 and the authors' code): the face resized to 64×64 in the graph, grey copied to
RGB with ImageNet normalisation → 3 × [Conv 3×3 (64, 128, 256) → BatchNorm → ReLU → MaxPool] →
squeeze-and-excitation on 256 channels → three residual blocks (256 → 512 → 1024 → 2048) →
GlobalAveragePooling → Dense 1024, 512, 256 (Dropout 0.5 each) → Dense 7 softmax: 80,260,999
parameters (80,238,599 learnable, as the authors' PyTorch model has with a 7-class head).

**The recipe** (`resemotenet`): Adam 1e-3, batch 16, up to 80 epochs at a constant learning rate,
early stopping after 15 epochs without a better val_accuracy. The paper trained with SGD (momentum
0.9, weight decay 1e-4) and horizontal flips; the recipe table below says what differs.

**Reported**: **79.79 %** on FER2013 — not reproducible on the standard splits; public re-runs report
58–66 %.

**On a CPU** the model is large: `MODEL_KWARGS = {"width": 0.25, "base_size": 48}` trains one with 1/16
of the convolution weights at the dataset's own size.

""",
    },
    "13_pattlite": {
        "variant": "pattlite",
        "choices": "its only variant",
        "cnn_lstm_variation": False,
        "model_kwargs": "{}",
        "hint": ', e.g. {"weights": "imagenet"} or {"base_size": 112}',
        "story": """\
# 13 — PAtt-Lite (Ngwe et al. 2024)

**The model**: the face resized to 224×224 RGB in [-1, 1] → MobileNetV1 truncated after block 9's
depthwise convolution (14×14×512; frozen in the paper's first stage) → patch extraction into 4
tokens of 256 → self-attention across the tokens → GlobalAveragePooling → Dropout 0.1 → Dense 32 →
BatchNorm → Dense 7 softmax: 1,102,664 parameters, 280,648 trainable with the backbone frozen (the
paper's "1.10 M"). The paper's attention mixes the images of a batch; here it runs across each
image's patch tokens (`fer_keras/models/pattlite.py` explains why).

**The recipe** (`pattlite`): the paper's first stage — backbone frozen, Adam 1e-3, batch 8, class
weights, learning rate ×0.1 when val_accuracy stalls for 3 epochs, early stopping after 5. Its
second stage (`unfreeze_last_layers`, Adam 1e-5), global clip-norm 3 and flip / contrast
augmentation are not part of this variant.

**Reported**: RAF-DB 95.05 %, FERPlus 95.55 %, CK+ 100 %; no FER2013 figure is recorded.

**Weights**: random by default. `MODEL_KWARGS = {"weights": "imagenet"}` loads Keras' ImageNet MobileNet
(downloaded on first use), as the paper does, or `{"weights": "path/to/file.weights.h5"}` a local
file; `{"base_size": 112}` (at least 80) is faster on a CPU.

""",
    },
}
"""Notebook → its default variant, the parameter comment listing its choices, whether it is a
CNN-LSTM variation (then it lists its sampling variants and tells CNN_LSTM_STORY), the opening of
its story (the first cell ends with RUN_IT) and, when it has a ``MODEL_KWARGS`` parameter, that
parameter's default and the end of its comment."""

FAMILY_CELLS = [  # after the story, the parameters and the imports
    ("markdown", """\
## The recipes

Each variant is data (`fer_keras/training/variants.py`): model, split, balancing, learning rate, batch size, epochs and the paper it follows."""),
    ("code", """\
pd.DataFrame([get_variant(name).to_dict() for name in VARIANTS]).set_index("name")[
    ["model", "split", "sampling", "learning_rate", "batch_size", "epochs", "reference"]]"""),
    ("markdown", """\
## The models

The registry's facts (`ModelFamily.facts()`, declared by each family's module): the paper, the parameter totals at 48×48×1 with 7 classes and the paper's widths (total, trainable, non-trainable), the smallest input side, the preprocessing inside the graph, the auxiliary outputs and the CPU size's parameter total; and `built_parameters`, the total of each model as built with its `MODEL_KWARGS` (e.g. a smaller `width` or `base_size` on a CPU), which is what is trained."""),
    ("code", """\
families = pd.DataFrame({name: MODEL_FAMILIES[get_variant(name).model].facts() for name in VARIANTS}).T
families.assign(built_parameters=pd.Series({
    name: build_model(get_variant(name).model, **MODEL_KWARGS.get(name, {})).count_params() for name in VARIANTS}))"""),
    ("markdown", """\
## Train and evaluate every variant

One `train` + `evaluate_run` per name in `VARIANTS`, with the builder arguments `MODEL_KWARGS[name]`; each run gets its own `OUTPUT_DIR/<variant>-<time>/` and `RESULTS_DIR/<run>/`."""),
    ("code", """\
runs = {name: train(name, data=DATA, epochs=EPOCHS, mixed_precision=MIXED_PRECISION, seed=SEED,
                    output_dir=OUTPUT_DIR, results_dir=RESULTS_DIR, per_class=PER_CLASS,
                    model_kwargs=MODEL_KWARGS.get(name, {}))
        for name in VARIANTS}
evaluations = {name: evaluate_run(run["run_dir"], results_dir=RESULTS_DIR, n_calls=TIMING_CALLS)
               for name, run in runs.items()}"""),
    ("markdown", """\
## Against the papers

Accuracy and macro-F1 in % on each run's test split, next to the paper's figure (`paper_accuracy`; the story above says where it was measured); *s_per_1000* is the inference time by Białek's protocol on this machine."""),
    ("code", """\
run_names = [Path(run["run_dir"]).name for run in runs.values()]
table = pd.DataFrame(collect(RESULTS_DIR)).set_index("run").loc[run_names]
table[["variant", "data", "best_epoch", "epochs_run", "accuracy", "paper_accuracy", "macro_f1", "s_per_1000",
       "device"]]"""),
    ("markdown", "## Confusion matrices and training curves"),
    ("code", """\
for name, run in runs.items():
    out_dir = Path(RESULTS_DIR) / Path(run["run_dir"]).name
    display(Markdown(f"### {name}"))
    display(Image(filename=out_dir / "confusion_matrix.png"))
    display(Image(filename=out_dir / "curves.png"))"""),
    ("markdown", """\
## Where the best run looks

Saliency maps of the run with the highest test accuracy."""),
    ("code", """\
best = max(evaluations, key=lambda name: evaluations[name]["test_accuracy"])
print(f"best: {best} ({evaluations[best]['test_accuracy']:.2%})")
pd.DataFrame(evaluations[best]["per_class"]).T"""),
    ("code", """\
display(Image(filename=run_saliency(runs[best]["run_dir"], n=SALIENCY_IMAGES, method=SALIENCY_METHOD,
                                    results_dir=RESULTS_DIR, seed=SEED)))"""),
]
FAMILY_END = ("markdown", """\
`python -m fer_keras.results` adds these runs to `results/README.md`, next to the papers' figures.""")

REGION_VOTE_CELLS = [
    ("markdown", """\
## The region vote

Bakiasi & Muça's ensemble: every model classifies the whole face and five regions of it — left eye, right eye, nose, mouth and the rest of the face — and the label most (model, region) pairs predict wins; a tie goes to the highest mean probability. Each part's box is cut out and resized back to 48×48, so the same models classify it; *rest* is the face with the four boxes filled with its mean grey (`fer_keras/data/regions.py`). It is compared with the same models' whole-face vote: the choice between the two is made on the validation split only, and the test split is reported once, for both. From a shell: `python -m fer_keras.ensemble --members RUN ... --regions whole,left_eye,right_eye,nose,mouth,rest`."""),
    ("code", """\
votes = compare_region_vote([run["run_dir"] for run in runs.values()], REGIONS, results_dir=RESULTS_DIR,
                            n_calls=TIMING_CALLS)
comparison = votes["region_vote"][0]["comparison"]
print(f"chosen on the validation split ({comparison['n_validation']} images): {comparison['selected']}")
pd.DataFrame(comparison["votes"]).T"""),
    ("code", """\
for vote, (found, out_dir) in votes.items():
    display(Markdown(f"### {vote}: test accuracy {found['test_accuracy']:.2%}"))
    display(Image(filename=out_dir / "confusion_matrix.png"))"""),
]

TRINH_PROTOCOL = """\
a stratified, duplicate-aware 20 % of Training validates and PrivateTest tests (PublicTest is not
used; split `training_holdout`); class weights; Keras augmentation during training."""

FAMILIES = {
    "14_residual_masking_network": {
        "variants": ["resnet34", "cbam_resnet34", "rmn"],
        "model_kwargs": "{}",
        "hint": ', e.g. {"rmn": {"width": 0.25}} on a CPU',
        "story": """\
# 14 — Pham et al. (2020): ResNet34, CBAM-ResNet34 and the Residual Masking Network

The three best single models of Pham et al.'s FER2013 ensemble, reused by Berindeie's (2024)
report. **ResNet34** (He et al. 2016): BasicBlocks [3, 4, 6, 3] of widths 64, 128, 256, 512 →
GlobalAveragePooling → Dense 7; 21,296,455 parameters. **CBAM-ResNet34** (Woo et al. 2018): a CBAM
(channel, then spatial attention) on every block's residual branch; 21,459,283. **RMN** (Pham et
al. 2020): ResNet34 with a masking block (a U-Net of depth 4, 3, 2, 1) after each stage, the
stage's output scaled as x·(1 + mask), Dropout 0.4 before the head; 137,865,415 (the paper states
142.9 M).

The paper feeds 224×224 RGB through the ImageNet stem (about 24 G multiply-accumulates per image for
RMN); here the 48×48 face goes through a small stem (3×3 convolution, 2×2 max-pool), so the four
stages see 24, 12, 6 and 3 pixels. `MODEL_KWARGS = {"rmn": {"width": 0.25}}` scales every width (RMN:
8,646,967 parameters) for a CPU.

**The recipe**: from scratch, Adam 1e-4, batch 48, up to 50 epochs, learning rate ×0.1 after 2
epochs without a better val_accuracy, early stopping after 8. The authors start ResNet34 from
ImageNet weights and train with momentum 0.9 and weight decay 1e-3.

**Reported** (Pham et al. 2020, at 224×224 RGB): ResNet34 **72.42 %**, RMN **74.14 %** (76.82 % in
an ensemble of 7); their CBAM model is ResNet50-based (73.39 %).

""",
    },
    "15_trinh_2023": {
        "variants": ["googlenet_trinh", "resnet50v2_trinh", "patch_vit_trinh"],
        "model_kwargs": "{}",
        "hint": ', e.g. {"resnet50v2_trinh": {"base_size": 96}}',
        "story": """\
# 15 — Trinh et al. (2023): GoogLeNet, a ResNet50V2 model and a ViT

**Trinh et al.'s protocol**, for all three: """ + TRINH_PROTOCOL + """

**GoogLeNet** (Szegedy et al. 2015, Table 1) with a 48×48 stem; two auxiliary classifiers during
training (loss weight 0.3 each), dropped from the saved model: 5,993,735 parameters; learning rate
1e-3, 60 epochs. **The ResNet50V2 model** (§2.1.2): the face resized to 224×224 RGB in [-1, 1] →
ResNet50V2 → Dropout 0.25 → BatchNorm → Flatten → Dense 64 → Dense 7: 29,996,039 parameters;
learning rate 1e-4, 25 epochs; `MODEL_KWARGS = {"resnet50v2_trinh": {"base_size": 96}}` is faster on a
CPU (the Flatten → Dense 64 then has fewer weights). **The ViT**: the paper fine-tunes a pretrained
ViT-Base; here a CPU-sized patch ViT trained from scratch (4×4 patches, width 96, 4 blocks of 4
heads): 315,463 parameters; learning rate 1e-3, 30 epochs.

**Reported** on FER2013: GoogLeNet **55 %**, the ResNet50V2 model **68 %**, ViT-Base **69 %**.

""",
    },
    "16_bakiasi_2024": {
        "variants": ["inceptionv3_trinh", "spp_net_trinh"],
        "model_kwargs": "{}",
        "hint": ', e.g. {"inceptionv3_trinh": {"weights": "imagenet"}}',
        "extra_parameters": """
REGIONS = ["left_eye", "right_eye", "nose", "mouth", "rest", "whole"]  # the region vote's regions""",
        "imports": """
from fer_keras.evaluation.region_vote import compare_region_vote  # noqa: E402""",
        "extra_cells": REGION_VOTE_CELLS,
        "story": """\
# 16 — Bakiasi & Muça (2024): InceptionV3, SPP-net and the region vote

**InceptionV3** (Szegedy et al. 2016): the face resized in the graph to 224×224 RGB in [-1, 1] →
InceptionV3 base (GlobalAveragePooling, 2048) → Dropout 0.5 → Dense 7: 21,817,127 parameters;
random weights by default, `MODEL_KWARGS = {"inceptionv3_trinh": {"weights": "imagenet"}}` for Keras'
ImageNet ones (downloaded on first use). **SPP-net** (He et al. 2015), CPU-sized: 4 stages of Conv →
BatchNorm → ReLU (32, 64, 128, 256 filters, max-pool between) → spatial pyramid pooling (1, 2, 4
bins) → Dense 512 → Dropout 0.5 → Dense 7: 3,145,895 parameters (the paper's exact layers are not
published). Both are trained under Trinh et al.'s protocol: """ + TRINH_PROTOCOL + """

**The region vote**: every model classifies the whole face and five regions of it, and the label
most (model, region) pairs predict wins — see the last section.

**Reported** on AffectNet (224×224 RGB, not FER2013): InceptionV3 **80.5 %**, SPP-net **78.5 %**, the
vote of their models **85.2 %**.

""",
    },
}
"""Family notebook → its default ``VARIANTS``, the default and comment of ``MODEL_KWARGS``, the opening
of its story, and optionally more parameters, imports and closing cells."""


RESULT_NOTEBOOKS = {
    "17_zoo_cpu_size": [
        ("markdown", """\
# 17 — The zoo at CPU size: every seed family's real run

Nothing is trained here: this notebook reads the committed results of the FER2013 runs of every seed family
at its **CPU size** (`python -m fer_keras.train --variant NAME --size cpu`, `fer_keras/models/presets.py`;
commands and CPU minutes in `results/COMMANDS.md`) and shows, per run, its numbers beside the paper's claim,
its training curves and its confusion matrix on PrivateTest. It is committed executed, so the figures are
here without running anything; `python notebooks/build_notebooks.py --execute` refreshes it from `results/`.
One family at a time, with its paper's claim and the figures of its best run: `zoo/<family>.ipynb`.

Honest protocol throughout: split first, cross-split copies removed, validation = PublicTest (checkpoint,
precise BatchNorm), test = PrivateTest reported once. The CPU size is a deviation from each paper (thinner,
smaller input, minutes instead of hours); the paper-size models are one option away (`--size paper`)."""),
        ("parameters", """\
RESULTS_DIR = "../results"  # the committed results folder"""),
        ("code", """\
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from fer_keras.evaluation.results import collect, one_vs_rest_rows"""),
        ("markdown", """\
## The table

One row per run; a warm start (`init`, `--init RUN`) counts the run it started from in `cpu_minutes_with_init`. The
one-vs-rest heads are shown as their seven-class vote (`ensemble --method ovr`, CPU minutes summed), not one by
one: a head's accuracy is a binary one."""),
        ("code", """\
found = collect(RESULTS_DIR)
rows = pd.DataFrame(found + one_vs_rest_rows(found))
zoo = rows[(rows["size"] == "cpu") & rows["data"].str.startswith("fer2013") & (rows["binary"] == "")]
zoo = zoo.sort_values(["family", "teacher", "run"])
zoo[["family", "variant", "accuracy", "macro_f1", "paper_accuracy", "train_cpu_minutes", "cpu_minutes_with_init",
     "epochs_run", "learned", "init", "teacher", "precision_policy", "run"]].set_index("family")"""),
        ("markdown", "## Curves and confusion matrices, run by run"),
        ("code", """\
for _, run in zoo.iterrows():
    mark = "" if run["learned"] else " — *did not learn*"
    teacher = f", teacher {run['teacher']}" if run["teacher"] else ""
    display(Markdown(f"### {run['family']}: {run['accuracy']:.2f} % (macro-F1 {run['macro_f1']:.2f}){mark}"
                     f" — `{run['run']}`{teacher}"))
    for figure, width in (("curves.png", 640), ("confusion_matrix.png", 420)):  # a vote has no curves
        if (Path(RESULTS_DIR) / run["run"] / figure).is_file():
            display(Image(filename=Path(RESULTS_DIR) / run["run"] / figure, width=width))"""),
    ],
}
"""Notebooks that only read committed results: committed executed (``--execute``), with their outputs."""

ZOO = HERE / "zoo"
"""One results notebook per seed family, ``zoo/<family>.ipynb`` (``zoo_notebook``), committed executed."""

OWN_PAPER = "this project"
"""How the registry's ``paper`` of this project's own families (baseline_cnn, FERNet) begins: they are no seed
family, so they get no zoo notebook."""


def is_zoo_run(row):
    """Whether a ``collect`` row is a seven-class FER2013 run at CPU size (not a one-vs-rest head)."""
    return row["size"] == "cpu" and row["data"].startswith("fer2013") and not row["binary"]


def zoo_families(results_dir=HERE.parent / "results"):
    """Family → whether it has a FER2013 run at CPU size in ``results_dir``: every family that has one, and
    every registered family, less this project's own (``OWN_PAPER``)."""
    from fer_keras.evaluation.results import collect
    from fer_keras.models.registry import MODEL_FAMILIES

    ran = {row["family"] for row in collect(results_dir) if is_zoo_run(row) and row["family"]}
    own = {name for name, family in MODEL_FAMILIES.items() if family.paper.startswith(OWN_PAPER)}
    return {name: name in ran for name in sorted((ran | set(MODEL_FAMILIES)) - own)}


def _claim(figures):
    """The paper's figures (``ModelFamily.figures``) in a sentence, by source."""
    if not figures:
        return "The registry records no FER2013 figure of its paper for it (`ModelFamily.figures`)."
    by_source = {}
    for variant, found in figures.items():
        by_source.setdefault(found["source"], []).append(f"`{variant}` **{found['accuracy']:g} %**")
    claims = "; ".join(f"{', '.join(variants)} ({source})" for source, variants in by_source.items())
    return f"The paper's claim (`ModelFamily.figures`, test accuracy): {claims}."


ZOO_OPENING = """\
# {family} at CPU size: its real FER2013 runs

**{family}** — {paper}. {claim}

Nothing is trained here: this notebook reads the committed results of the family's FER2013 runs at its CPU size
(`results/<run>/`; honest protocol, PrivateTest reported once) and shows the training curves and the confusion matrix
of its best learned run; it is committed executed, with its outputs.
{reproduce}
`python notebooks/build_notebooks.py --execute` refreshes every notebook of `notebooks/zoo/` from `results/`; the
whole zoo on one page is `../17_zoo_cpu_size.ipynb`."""

ZOO_REPRODUCE = """\
To reproduce a run, run the `command` recorded in its `config.json` from the repository root (printed below for the
best run); `results/COMMANDS.md` has every command, dated."""

ZOO_NO_RUN = """\
**No CPU-size run yet**: `python -m fer_keras.train --variant {variant} --size cpu --data \
../shared/data/fer2013.csv.gz` makes one."""

ZOO_CELLS = [  # after the opening and the parameters cell
    ("markdown", """\
## The runs

Every FER2013 run of the family at CPU size in `RESULTS_DIR`, best first: accuracy and macro-F1 in % on PrivateTest,
with test-time augmentation (`tta`, `accuracy_tta`) where it was measured; `paper_accuracy` is the paper's figure for
the variant; `train_cpu_minutes` the training's CPU minutes (`cpu_minutes_with_init` with those of the run a warm start began
from, `init`); `learned` is False for a run at the class prior (did not
learn); `teacher` the distillation teacher, `region` the face region a run was trained on (a region-vote member)."""),
    ("code", """\
import json
import warnings
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's note: this kernel has no ipywidgets
from fer_keras.evaluation.results import collect  # noqa: E402

rows = pd.DataFrame(collect(RESULTS_DIR))
runs = rows[(rows["family"] == "{family}") & (rows["size"] == "cpu") & rows["data"].str.startswith("fer2013")
            & (rows["binary"] == "")]  # a one-vs-rest head's accuracy is a binary one
runs = runs.sort_values(["accuracy", "run"], ascending=[False, True]).astype({"epochs_run": "Int64"})
runs[["variant", "accuracy", "macro_f1", "tta", "accuracy_tta", "paper_accuracy", "train_cpu_minutes",
      "cpu_minutes_with_init", "epochs_run", "learned", "init", "teacher", "region", "run"]].set_index("run").fillna({"tta": "", "region": ""})"""),
    ("markdown", """\
## The best learned run

The learned run of the whole face (no `region`) with the highest PrivateTest accuracy: the command that made it, its
training curves and its confusion matrix on PrivateTest."""),
    ("code", """\
learned = runs[runs["learned"] & runs["region"].isna()]
best = learned.iloc[0] if len(learned) else None
if best is None:
    display(Markdown("No whole-face run of this family learned (each is at the class prior): no figures to show."))
else:
    display(Markdown(f"### `{best['run']}`: {best['accuracy']:.2f} % (macro-F1 {best['macro_f1']:.2f})"))
    print(json.loads((Path(RESULTS_DIR) / best["config"]).read_text())["command"])
    display(Image(filename=Path(RESULTS_DIR) / best["run"] / "curves.png", width=640))
    display(Image(filename=Path(RESULTS_DIR) / best["run"] / "confusion_matrix.png", width=420))"""),
    ("markdown", "## The other runs"),
    ("code", """\
lines = []
for _, run in runs[runs["run"] != (None if best is None else best["run"])].iterrows():
    line = f"- `{run['run']}`: {run['accuracy']:.2f} % (macro-F1 {run['macro_f1']:.2f}), {run['epochs_run']} epochs"
    line += "" if run["learned"] else ", *did not learn*"
    line += f", teacher {run['teacher']}" if run["teacher"] else ""
    line += f", region {run['region']}" if pd.notna(run["region"]) else ""
    line += f", {run['tta']} TTA {run['accuracy_tta']:.2f} %" if pd.notna(run["tta"]) else ""
    figures = Path(RESULTS_DIR) / run["run"]
    lines.append(f"{line} — [curves]({figures / 'curves.png'}), [confusion matrix]({figures / 'confusion_matrix.png'})")
display(Markdown("\\n".join(lines) or "No other CPU-size run."))"""),
]


def zoo_notebook(family, has_run=True):
    """The cells of ``zoo/<family>.ipynb``: the family, its paper and claim, and (when it has a CPU-size run)
    its runs, read from ``RESULTS_DIR`` when executed."""
    from fer_keras.models.registry import MODEL_FAMILIES
    from fer_keras.training.variants import VARIANTS

    registered = MODEL_FAMILIES.get(family)
    paper = registered.paper if registered else "not in the registry (`fer_keras.models.MODEL_FAMILIES`)"
    if has_run:
        reproduce = ZOO_REPRODUCE
    else:
        reproduce = ZOO_NO_RUN.format(variant=next(v.name for v in VARIANTS.values() if v.model == family))
    opening = ZOO_OPENING.format(family=family, paper=paper, claim=_claim(registered.figures if registered else {}),
                                 reproduce=reproduce)
    cells = [("markdown", opening), ("parameters", 'RESULTS_DIR = "../../results"  # the committed results folder')]
    body = [(kind, source.replace('"{family}"', f'"{family}"')) for kind, source in ZOO_CELLS]
    return cells + (body if has_run else body[:2])


def notebook(spec):
    """The notebook (nbformat 4 JSON) of one ``NOTEBOOKS`` or ``FAMILIES`` entry."""
    if "variants" in spec:
        variants = "[" + ", ".join(f'"{name}"' for name in spec["variants"]) + "]"
        parameters = FAMILY_PARAMETERS.format(variants=variants, model_kwargs=spec["model_kwargs"], hint=spec["hint"])
        imports = SHARED_BEFORE[0][1] + MODEL_IMPORT + spec.get("imports", "")
        cells = [("markdown", spec["story"] + RUN_IT), ("parameters", parameters + spec.get("extra_parameters", "")),
                 ("code", imports), *FAMILY_CELLS, *spec.get("extra_cells", []), FAMILY_END]
        return _nbformat(cells)
    story = spec["story"] + (CNN_LSTM_STORY.format(variant=spec["variant"]) if spec["cnn_lstm_variation"] else "")
    parameters = PARAMETERS.format(variant=spec["variant"], choices=spec["choices"])
    if "model_kwargs" in spec:
        parameters += SINGLE_MODEL_KWARGS.format(model_kwargs=spec["model_kwargs"], hint=spec["hint"])
    cells = [("markdown", story + RUN_IT), ("parameters", parameters)]
    cells += SHARED_BEFORE
    if spec["cnn_lstm_variation"]:
        cells.append(("code", SAMPLING_CELL.format(variant=spec["variant"])))
    if "model_kwargs" in spec:
        cells[2] = ("code", cells[2][1] + MODEL_IMPORT)
        cells += MODEL_CELLS
    model_kwargs = ", model_kwargs=MODEL_KWARGS" if "model_kwargs" in spec else ""
    cells += [(kind, source.replace("{model_kwargs}", model_kwargs)) for kind, source in SHARED_AFTER]
    return _nbformat(cells)


def _nbformat(cells):
    out = []
    for index, (kind, source) in enumerate(cells):
        entry = {"cell_type": "markdown" if kind == "markdown" else "code", "id": f"cell-{index:02d}",
                 "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "parameters":
            entry["metadata"] = {"tags": ["parameters"]}
        if entry["cell_type"] == "code":
            entry.update(execution_count=None, outputs=[])
        out.append(entry)
    return {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"}, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def render(spec):
    return json.dumps(notebook(spec), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render_result_notebook(name, execute=False):
    """A ``RESULT_NOTEBOOKS`` notebook as JSON text; ``execute`` runs it (in ``notebooks/``) so that it is
    stored with its outputs."""
    return _render_executed(_nbformat(RESULT_NOTEBOOKS[name]), HERE if execute else None)


def render_zoo_notebook(family, has_run=True, execute=False):
    """``zoo/<family>.ipynb`` as JSON text; ``execute`` runs it (in ``notebooks/zoo/``)."""
    return _render_executed(_nbformat(zoo_notebook(family, has_run)), ZOO if execute else None)


def _render_executed(nb, folder=None):
    """The notebook as JSON text; with a ``folder``, executed first (nbclient) in a fresh kernel of this
    interpreter whose working folder is ``folder`` and which imports this checkout's ``fer_keras``."""
    if folder is not None:
        import nbformat
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync
        from nbclient import NotebookClient

        nb = nbformat.reads(json.dumps(nb), as_version=4)
        kernel = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
        path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
        try:
            NotebookClient(nb, km=kernel, timeout=600, resources={"metadata": {"path": str(folder)}}).execute(
                env={**os.environ, "PYTHONPATH": path})
        finally:  # a kernel manager handed to nbclient is the caller's to shut down
            if kernel.has_kernel:
                run_sync(kernel.shutdown_kernel)(now=True)
        for cell in nb.cells:  # the execution's own bookkeeping changes from run to run
            cell.metadata.pop("execution", None)
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv=None):
    """Writes the template notebooks; the results notebooks (17 and ``zoo/<family>``) when missing, or all of
    them executed with ``--execute``, the zoo's family list taken from ``results/`` and the registry."""
    execute = "--execute" in (sys.argv[1:] if argv is None else argv)
    for name, spec in {**NOTEBOOKS, **FAMILIES}.items():
        (HERE / f"{name}.ipynb").write_text(render(spec))
        print(f"wrote notebooks/{name}.ipynb")
    results = {HERE / f"{name}.ipynb": lambda name=name: render_result_notebook(name, execute)
               for name in RESULT_NOTEBOOKS}
    families = zoo_families()
    results.update({ZOO / f"{family}.ipynb": lambda family=family, ran=ran: render_zoo_notebook(family, ran, execute)
                    for family, ran in families.items()})
    ZOO.mkdir(exist_ok=True)
    for path in sorted(set(ZOO.glob("*.ipynb")) - set(results)):  # a family no longer in the zoo
        path.unlink()
        print(f"removed {path.relative_to(HERE.parent)}")
    for path, rendered in results.items():
        if execute or not path.exists():
            path.write_text(rendered())
            done = " (executed)" if execute else " (not executed: --execute)"
            print(f"wrote {path.relative_to(HERE.parent)}{done}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))  # this checkout's fer_keras: the zoo's families come from its registry
    sys.exit(main())
