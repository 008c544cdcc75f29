"""Stage 4, fit: named experiments (``variants``), how to train (``recipes``, ``schedules``, ``callbacks``,
``stages``, ``snapshots``, ``distill``, ``distribute``, ``batches``), ``train`` itself, and the end-of-training
health check (``health``)."""
