"""Stage 6, read runs: the one evaluator (``evaluate``) and what builds on it — ensembles and the region
vote, saliency, the collapse diagnosis, the results tables, the end-to-end photo evaluation and plots."""
