"""The package's own Keras layers: built from ``keras.ops`` (every backend) and registered, so that
models using them save and load in safe mode (``fer_keras.runs.model_files`` imports this module
before loading)."""

import keras
from keras import layers, ops

SPP_BINS = (1, 2, 4)


@keras.saving.register_keras_serializable(package="fer_keras")
class SpatialPyramidPooling(layers.Layer):
    """Max-pool an N×H×W×C map into ``bins`` grids (n×n each) and concatenate: N×C·Σn²."""

    def __init__(self, bins=SPP_BINS, **kwargs):
        super().__init__(**kwargs)
        self.bins = tuple(int(n) for n in bins)
        if not self.bins or min(self.bins) < 1:
            raise ValueError(f"bins must be positive grid sizes, got {bins!r}")

    def call(self, x):
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        pooled = []
        for n in self.bins:
            for i in range(n):
                top, bottom = (i * height) // n, ((i + 1) * height + n - 1) // n
                for j in range(n):
                    left, right = (j * width) // n, ((j + 1) * width + n - 1) // n
                    pooled.append(ops.max(x[:, top:bottom, left:right, :], axis=(1, 2)))
        return ops.concatenate(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * sum(n * n for n in self.bins))

    def get_config(self):
        return {**super().get_config(), "bins": list(self.bins)}


@keras.saving.register_keras_serializable(package="fer_keras")
class PositionEmbedding(layers.Layer):
    """Adds a learned embedding per token position to an N×T×D sequence (ViT's position embedding)."""

    def build(self, input_shape):
        self.embedding = self.add_weight(shape=(1, input_shape[1], input_shape[2]), name="embedding",
                                         initializer=keras.initializers.TruncatedNormal(stddev=0.02))

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)


@keras.saving.register_keras_serializable(package="fer_keras")
class ChannelPool(layers.Layer):
    """N×H×W×C → N×H×W×2: the maximum and the mean over the channels (CBAM's spatial-attention input,
    Woo et al. 2018, §3)."""

    def call(self, x):
        return ops.concatenate([ops.max(x, axis=-1, keepdims=True), ops.mean(x, axis=-1, keepdims=True)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)
