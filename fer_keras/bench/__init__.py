"""Speed measurements, outside the pipeline: training and inference per backend and dtype (``speed``,
``python -m fer_keras.bench``), data loading, streaming, the web app under load, face detectors."""


def main(argv=None):
    """``python -m fer_keras.bench``: training and inference speed (``fer_keras.bench.speed``)."""
    from fer_keras.bench.speed import main as speed

    return speed(argv)
