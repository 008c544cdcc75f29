"""Figures for every stage's reports: ``matplotlib.figure.Figure`` objects, not pyplot's, so they render
headless without switching the user's backend (inline plots in Jupyter keep working), saved atomically."""

from fer_keras.files import atomic_write


def figure(nrows=1, ncols=1, figsize=None, layout=None, **subplots):
    """A pyplot-free ``Figure`` and its axes, as ``plt.subplots`` returns them."""
    from matplotlib.figure import Figure  # here: importing a report module does not load matplotlib

    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **subplots)


def save_figure(fig, path):
    """Save ``fig`` as PNG at ``path`` atomically (a temporary name, then a rename)."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    return path
