"""The seed papers' reported figures (DESIGN §4), by the variant that reproduces them: data that
reports (``evaluate``, ``results``, the notebooks) print beside our measured numbers.

Each family declares the figures of its papers (``ModelFamily.figures``); ``PAPER_RESULTS`` is their
union, derived from the registry.
"""

from fer_keras.models.family import (BAKIASI_AFFECTNET, BIALEK, PHAM, ROY_UNREPRODUCED,  # noqa: F401 (re-exported)
                                     THESIS_LEAKY, TRINH)
from fer_keras.models.registry import MODEL_FAMILIES


def _union(families):
    results = {}
    for family in families:
        for variant, figure in family.figures.items():
            if variant in results:
                raise ValueError(f"two families give a paper figure for variant {variant!r} (one is {family.name})")
            results[variant] = figure
    return results


PAPER_RESULTS = _union(MODEL_FAMILIES.values())
"""Variant name → the seed's test accuracy (%), its inference time (s per 1000 images; Białek's on a
Tesla T4) and where the figure comes from (DESIGN §4)."""


def paper_figure(variant):
    """The seed's figure for ``variant`` as one line, or None."""
    paper = PAPER_RESULTS.get(variant)
    if paper is None:
        return None
    speed = f", {paper['s_per_1000']} s / 1000 images on a Tesla T4" if paper["s_per_1000"] else ""
    return f"{paper['accuracy']:.2f} % test accuracy ({paper['source']}{speed})"
