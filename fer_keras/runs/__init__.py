"""Stage 3, the run folder: what a training run writes and every later stage reads (``folder``), and model
files — Keras and TFLite — with their label sets (``model_files``)."""
