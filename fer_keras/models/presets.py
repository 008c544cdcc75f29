"""Each model family's **CPU size** (``--size cpu``): a thinner, smaller-input, sometimes shallower
copy of the paper's model and the recipe it trains with, so that one epoch of FER2013's Training split
costs at most about 3 CPU-minutes on a 2-core CPU and the family leaves the class prior within a budget
of minutes (issue 21). ``--variant NAME`` alone keeps the paper's size and recipe; the CPU size is a
deviation from the paper, and runs say so (``config.json``'s ``size`` and ``deviations``, the reports
and the zoo table).

Each family declares its own (``ModelFamily.cpu``, a :class:`~fer_keras.models.family.CpuPreset`);
``CPU_PRESETS`` is derived from the registry. No Keras import: ``python -m fer_keras.train --list``
prints it before any slow import.
"""

from fer_keras.models.family import CpuPreset  # noqa: F401 (re-exported)
from fer_keras.models.registry import MODEL_FAMILIES

CPU_PRESETS = {name: family.cpu for name, family in MODEL_FAMILIES.items()}
"""Family name → its CPU size. Every registered family has one (tested)."""

SIZES = ("paper", "cpu")
"""``--size``: the paper's model and recipe, or the family's CPU preset."""
