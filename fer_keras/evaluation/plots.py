"""Evaluation figures: confusion-matrix heat map, training curves, saliency grids.

Each ``plot_*`` function saves one PNG to ``path`` and returns the path. The figures are
``matplotlib.figure.Figure`` objects, not pyplot's: they render headless without switching the
user's backend (inline plots in Jupyter keep working).
"""

import numpy as np

from fer_keras.cli import lazy_import
from fer_keras.figures import figure, save_figure

sns = lazy_import("seaborn")

TRAIN_COLOR, VAL_COLOR, BEST_COLOR = "#1f77b4", "#ff7f0e", "#2ca02c"
RIGHT_COLOR, WRONG_COLOR = "#1a7f37", "#c62828"


def plot_confusion_matrix(counts, class_names, path, title="Confusion matrix"):
    """Heat map of the row-normalised confusion matrix (each true class sums to 100 %), cells
    written as percentages; the tick labels carry each true class' number of test images."""
    counts = np.asarray(counts, dtype=np.float64)
    support = counts.sum(axis=1)
    percent = np.divide(counts, support[:, None], out=np.zeros_like(counts), where=support[:, None] > 0) * 100
    size = 2.0 + 0.9 * len(class_names)
    fig, ax = figure(figsize=(size + 1.6, size))
    sns.heatmap(percent, annot=True, fmt=".1f", cmap="Blues", vmin=0, vmax=100, square=True, linewidths=0.5,
                linecolor="white", cbar_kws={"label": "% of the true class", "shrink": 0.8},
                annot_kws={"fontsize": 10}, ax=ax,
                xticklabels=list(class_names),
                yticklabels=[f"{name} (n={int(n):,})" for name, n in zip(class_names, support)])
    for text in ax.texts:
        text.set_text(f"{text.get_text()}%")
    ax.set(xlabel="predicted emotion", ylabel="true emotion")
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", rotation=30)
    ax.tick_params(axis="y", rotation=0)
    return save_figure(fig, path)


def plot_training_curves(history, path, best_epoch=None, title="Training curves"):
    """Accuracy and loss per epoch, training vs validation, from a Keras ``history.csv`` frame
    (columns ``epoch``, ``accuracy``, ``loss``, ``val_accuracy``, ``val_loss``; epochs from 0);
    ``best_epoch`` (1-based, the checkpoint's) is marked on both panels."""
    epochs = history["epoch"].to_numpy() + 1
    fig, axes = figure(1, 2, figsize=(12, 4.6))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for column, label, color in ((metric, "training", TRAIN_COLOR), (f"val_{metric}", "validation", VAL_COLOR)):
            if column in history:
                ax.plot(epochs, history[column], marker="o", markersize=4, color=color, label=label)
        if best_epoch is not None:
            label = f"best checkpoint (epoch {best_epoch})"
            if f"val_{metric}" in history and best_epoch in epochs:
                value = history[f"val_{metric}"].to_numpy()[list(epochs).index(best_epoch)]
                ax.plot([best_epoch], [value], marker="*", markersize=13, color=BEST_COLOR, zorder=3)
                label += f": validation {value:.3f}"
            ax.axvline(best_epoch, color=BEST_COLOR, linestyle="--", linewidth=1.2, label=label)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=9)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def plot_saliency_grid(images, heatmaps, true_names, predicted_names, path, title="Saliency", per_row=4):
    """Pairs of panels per example: the face, then the heat map over it; titles give the true and
    predicted emotion (green when they agree, red otherwise). ``images`` N×48×48 (or ×1) in [0, 1]
    or uint8; ``heatmaps`` N×48×48, each scaled to its own 99.5th percentile for display."""
    images = np.asarray(images, dtype=np.float32).reshape(len(images), *np.shape(images)[1:3])
    if images.max() > 1.0:
        images = images / 255.0
    n = len(images)
    per_row = max(1, min(per_row, n))
    rows = -(-n // per_row)
    fig, axes = figure(rows, 2 * per_row, figsize=(2.9 * per_row, 1.8 * rows + 0.8), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        face, overlay = axes[i // per_row, 2 * (i % per_row)], axes[i // per_row, 2 * (i % per_row) + 1]
        heat = np.clip(np.asarray(heatmaps[i], dtype=np.float32), 0, None)
        top = np.percentile(heat[heat > 0], 99.5) if (heat > 0).any() else 0.0
        heat = np.clip(heat / top, 0, 1) if top > 0 else heat
        face.imshow(images[i], cmap="gray", vmin=0, vmax=1)
        overlay.imshow(images[i], cmap="gray", vmin=0, vmax=1)
        overlay.imshow(heat, cmap="jet", alpha=0.15 + 0.65 * heat, vmin=0, vmax=1)  # faint where nothing is salient
        right = true_names[i] == predicted_names[i]
        face.set_title(f"true: {true_names[i]}", fontsize=9)
        overlay.set_title(f"pred: {predicted_names[i]}", fontsize=9, color=RIGHT_COLOR if right else WRONG_COLOR)
    fig.suptitle(f"{title}\n(each heat map scaled to its own 99.5th percentile; red = most salient)", fontsize=11)
    return save_figure(fig, path)
