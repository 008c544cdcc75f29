"""The EDA report's figures: class balance, mean-pixel box plot, duplicates, galleries of defects.

Each ``plot_*`` function takes the data (and the tables of ``fer_keras.data.eda``), saves one PNG to
``path`` and returns the path (pyplot-free figures, see ``fer_keras.evaluation.plots``).
"""

import textwrap
from collections import Counter

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.cli import lazy_import
from fer_keras.data.container import SPLITS
from fer_keras.figures import figure, save_figure

pd = lazy_import("pandas")
sns = lazy_import("seaborn")

SPLIT_COLORS = dict(zip(SPLITS, sns.color_palette("deep", 3)))
GALLERY_MAX = 64
"""At most this many thumbnails per gallery (the figure says how many were left out)."""


def plot_class_distribution(data, path):
    """Bar chart: images per emotion, one bar per Usage split, counts written on the bars."""
    frame = pd.DataFrame({"emotion": np.asarray(EMOTIONS)[data.labels],
                          "split": np.where(data.usage == "", "no split", data.usage)})
    splits = [s for s in (*SPLITS, "no split") if s in set(frame["split"])]
    fig, ax = figure(figsize=(11, 5.5))
    sns.countplot(frame, x="emotion", hue="split", order=EMOTIONS, hue_order=splits, ax=ax,
                  palette=[SPLIT_COLORS.get(s, "grey") for s in splits])
    for bars in ax.containers:
        ax.bar_label(bars, fmt="{:,.0f}", fontsize=8, padding=2)
    ax.set(title=f"Class distribution per split — {len(data):,} images", xlabel="emotion", ylabel="images")
    ax.margins(y=0.1)
    ax.legend(title="Usage split")
    return save_figure(fig, path)


def plot_mean_pixel_boxplot(data, means, threshold, fences, path, k=1.5):
    """Box plots of each image's mean pixel (all images, then per emotion) with the outlier line."""
    groups = [means] + [means[data.labels == label] for label in range(len(EMOTIONS))]
    n_above = int((means > threshold).sum())
    fig, ax = figure(figsize=(11, 5.5))
    ax.boxplot(groups, whis=k, widths=0.6, patch_artist=True, boxprops={"facecolor": "lightsteelblue"},
               medianprops={"color": "black"}, flierprops={"marker": ".", "markersize": 3, "alpha": 0.5})
    ax.set_xticks(range(1, len(groups) + 1), ["all images", *EMOTIONS])
    ax.axhline(threshold, color="crimson", linestyle="--", linewidth=1.5,
               label=f"threshold {threshold:g}: {n_above:,} images above (thesis' outliers)")
    ax.axhline(fences[0], color="grey", linestyle=":", linewidth=1, label=f"{k:g}·IQR fences of all images "
               f"({fences[0]:.1f}, {fences[1]:.1f})")
    ax.axhline(fences[1], color="grey", linestyle=":", linewidth=1)
    ax.set(title="Mean pixel value per image", xlabel="", ylabel="mean pixel (0 black … 255 white)", ylim=(-5, 262))
    ax.legend(loc="lower right", fontsize=9)
    return save_figure(fig, path)


def plot_duplicates_per_class(data, groups, path):
    """Per emotion: extra copies of an image, rows in conflicting groups, rows in straddling groups."""
    extra = [r for rows in groups["rows"] for r in rows[1:]]
    conflicting = [r for rows in groups.loc[groups["conflicting"], "rows"] for r in rows]
    straddling = [r for rows in groups.loc[groups["straddling"], "rows"] for r in rows]
    kinds = {f"extra copies ({len(extra):,}, dropped by remove_duplicates)": extra,
             f"rows in conflicting groups ({len(conflicting):,})": conflicting,
             f"rows in groups straddling splits ({len(straddling):,})": straddling}
    frame = pd.DataFrame([{"emotion": EMOTIONS[data.labels[r]], "kind": kind}
                          for kind, rows in kinds.items() for r in rows], columns=["emotion", "kind"])
    fig, ax = figure(figsize=(11, 5.5))
    if len(frame):
        sns.countplot(frame, x="emotion", hue="kind", order=EMOTIONS, hue_order=list(kinds), ax=ax)
        for bars in ax.containers:
            ax.bar_label(bars, fontsize=8, padding=2)
        ax.legend(title=None, fontsize=9)
    else:
        _no_items(ax, "no duplicate images")
    ax.set(title=f"Exact duplicates per emotion — {len(groups):,} images occur more than once",
           xlabel="emotion (label of the row)", ylabel="rows")
    ax.margins(y=0.1)
    return save_figure(fig, path)


def plot_conflicting_gallery(data, conflicts, path):
    """One thumbnail per image whose copies disagree, captioned with its labels and splits."""
    captions = []
    for labels, splits in zip(conflicts["emotions"], conflicts["splits"]):
        emotions = " · ".join(f"{e} ×{n}" if n > 1 else e for e, n in Counter(labels).items())
        captions.append(textwrap.fill(emotions, 28) + "\n" + ", ".join(_short(s) for s in dict.fromkeys(splits)))
    rows = [rows[0] for rows in conflicts["rows"]]
    title = f"Identical images with conflicting labels — {len(conflicts):,} images, {conflicts['size'].sum():,} rows"
    return _gallery(data.images[rows], captions, title, path)


def plot_outlier_gallery(data, outliers, constant, threshold, path):
    """Thumbnails of the bright outliers, then the constant images, captioned with their mean pixel."""
    table = pd.concat([outliers, constant[~constant.index.isin(outliers.index)]])
    captions = [f"mean {m:.1f}{' (constant)' if row in constant.index else ''}\n{e} · {_short(u)}"
                for row, m, e, u in zip(table.index, table["mean_pixel"], table["emotion"], table["usage"])]
    title = f"Outliers — {len(outliers):,} images with mean pixel > {threshold:g}, {len(constant):,} constant images"
    return _gallery(data.images[table.index.to_numpy(dtype=int)], captions, title, path)


def _gallery(images, captions, title, path, ncols=8):
    shown = min(len(images), GALLERY_MAX)
    nrows = max(1, -(-shown // ncols))
    lines = max([c.count("\n") + 1 for c in captions[:shown]] or [1])
    fig, axes = figure(nrows, ncols, figsize=(2 * ncols, (2 + 0.17 * lines) * nrows + 0.5), squeeze=False,
                       layout="constrained")
    for k, ax in enumerate(axes.flat):
        ax.set(xticks=[], yticks=[])  # the frame stays: white thumbnails need an edge
        if k < shown:
            ax.imshow(images[k], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(captions[k], fontsize=9)
        else:
            ax.axis("off")
    if not shown:
        _no_items(axes.flat[0], "none found")
    if len(images) > shown:
        title += f" (first {shown} shown)"
    fig.suptitle(title, fontsize=13)
    return save_figure(fig, path)


SHORT_SPLITS = {"Training": "train", "PublicTest": "public test", "PrivateTest": "private test", "": "no split"}


def _short(split):
    return SHORT_SPLITS.get(split, split)


def _no_items(ax, text):
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, transform=ax.transAxes)
