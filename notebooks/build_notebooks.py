"""The single-model notebooks 01–06 from one template: ``python notebooks/build_notebooks.py``.

Each notebook is one variation's story (its first cell) and its default ``VARIANT``; every other
cell is the shared template below, so a change to how a variation is trained or reported is made
once. ``tests/test_notebooks.py`` checks that the committed notebooks are this script's output.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

PARAMETERS = """\
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
VARIANT = "{variant}"  # {choices}"""

SAMPLING_CELL = """\
from fer_keras.variants import VARIANTS as ALL_VARIANTS

[name for name in ALL_VARIANTS if name.startswith("{variant}")]  # its sampling variants"""

SHARED_BEFORE = [  # after the story and the parameters
    ("code", """\
from pathlib import Path

import pandas as pd
from IPython.display import Image, Markdown, display

from fer_keras.cli import import_keras_quietly

import_keras_quietly()  # keeps TensorFlow's C++ start-up lines out of the notebook
from fer_keras.evaluate import evaluate_run  # noqa: E402
from fer_keras.results import collect, paper_figure  # noqa: E402
from fer_keras.saliency import run_saliency  # noqa: E402
from fer_keras.train import train  # noqa: E402
from fer_keras.variants import get_variant  # noqa: E402"""),
    ("markdown", """\
## The recipe

The variant is data (`fer_keras/variants.py`): model, cleaning steps, split, balancing, learning rate, batch size, epochs and callback settings."""),
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
                output_dir=OUTPUT_DIR, results_dir=RESULTS_DIR, per_class=PER_CLASS)
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
}
"""Notebook → its default variant, the parameter comment listing its choices, whether it is a
CNN-LSTM variation (then it lists its sampling variants and tells CNN_LSTM_STORY), and the opening
of its story (the first cell ends with RUN_IT)."""


def notebook(spec):
    """The notebook (nbformat 4 JSON) of one ``NOTEBOOKS`` entry."""
    story = spec["story"] + (CNN_LSTM_STORY.format(variant=spec["variant"]) if spec["cnn_lstm_variation"] else "")
    cells = [("markdown", story + RUN_IT),
             ("parameters", PARAMETERS.format(variant=spec["variant"], choices=spec["choices"]))]
    cells += SHARED_BEFORE
    if spec["cnn_lstm_variation"]:
        cells.append(("code", SAMPLING_CELL.format(variant=spec["variant"])))
    cells += SHARED_AFTER
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


def main():
    for name, spec in NOTEBOOKS.items():
        (HERE / f"{name}.ipynb").write_text(render(spec))
        print(f"wrote notebooks/{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
