"""The package's own Keras layers: built from ``keras.ops`` (every backend) and registered, so that
models using them save and load in safe mode (``fer_keras.runs.model_files`` imports this module
before loading)."""

import keras
from keras import layers, ops

from fer_keras.models.blocks import SPP_BINS


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


@keras.saving.register_keras_serializable(package="fer_keras")
class FaceRegion(layers.Layer):
    """One face region of Bakiasi & Muça (2024) cut out of N×48×48×C faces inside the model, so a model
    trained on a region takes whole faces like any other (its run evaluates, ensembles and serves as usual):
    a part's box (``fer_keras.data.regions``: the fixed geometric boxes of an aligned face) resized back to
    48×48 bilinearly; "rest" fills the four parts' boxes with each face's mean; "whole" passes the face on."""

    def __init__(self, region="whole", **kwargs):
        from fer_keras.data.regions import VOTE_REGIONS

        super().__init__(**kwargs)
        if region not in VOTE_REGIONS:
            raise ValueError(f"unknown face region {region!r}; expected one of {', '.join(VOTE_REGIONS)}")
        self.region = region

    def build(self, input_shape):
        from fer_keras.data.regions import PARTS, region_boxes

        if tuple(input_shape[1:3]) != (48, 48):
            raise ValueError(f"FaceRegion takes 48×48 faces, got {tuple(input_shape[1:3])}")
        self.boxes = region_boxes()  # (x0, y0, x1, y1) in the 48×48 face, all inside it
        mask = [[0.0 if any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in map(self.boxes.get, PARTS))
                 else 1.0 for x in range(48)] for y in range(48)]
        self.keep = ops.convert_to_tensor(mask)[None, :, :, None]

    def call(self, x):
        if self.region == "whole":
            return x
        if self.region == "rest":
            keep = ops.cast(self.keep, x.dtype)
            return x * keep + ops.mean(x, axis=(1, 2, 3), keepdims=True) * (1 - keep)
        x0, y0, x1, y1 = self.boxes[self.region]
        return ops.image.resize(x[:, y0:y1, x0:x1, :], (48, 48), interpolation="bilinear")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "region": self.region}
