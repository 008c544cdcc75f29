"""The thesis' attention model ("ViT", §8.6): convolutions with self-attention over positions."""

from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.family import THESIS_LEAKY, VIT_RECIPE, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers


def build_attention_vit(input_shape=(48, 48, 1), num_classes=7, binary=False, num_heads=8, key_dim=8,
                        dropout=0.2, name="attention_vit"):
    """Attention "ViT", thesis §8.6.

    Conv2D 32 2×2 → LayerNorm → MaxPool; Conv2D 64 3×3 → LayerNorm → MaxPool (48 → 24 → 12);
    self-attention (num_heads × key_dim) over the 12×12 positions → Dense 200 → LayerNorm;
    Conv2D 64 3×3 → LayerNorm; Conv2D 128 3×3 → LayerNorm; Reshape(-1, 128) (144 tokens) →
    self-attention → Dense 200 → LayerNorm → Dropout → Dense 128 ReLU → LayerNorm →
    GlobalAveragePooling1D → Dense(num_classes) softmax. Convolutions are "same" with ReLU;
    the Dense 200 projections are linear, as the text gives no activation for them.
    The thesis states 197,799 trainable parameters; the text builds 324,567 (all trainable) at
    48×48×1 with 7 classes (3×3 kernels after the first conv are what reproduce that count).
    The thesis trains it with Adam 2e-4.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 4.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        num_heads: attention heads in both attention layers.
        key_dim: size of each head's query and key.
        dropout: dropout before Dense 128.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = layers.Conv2D(32, 2, padding="same", activation="relu", name="block1_conv")(inputs)
    x = layers.LayerNormalization(name="block1_ln")(x)
    x = layers.MaxPooling2D(2, name="block1_pool")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="block2_conv")(x)
    x = layers.LayerNormalization(name="block2_ln")(x)
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = layers.MultiHeadAttention(num_heads, key_dim, name="attn1")(x, x)
    x = layers.Dense(200, name="attn1_proj")(x)
    x = layers.LayerNormalization(name="attn1_ln")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="block3_conv")(x)
    x = layers.LayerNormalization(name="block3_ln")(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu", name="block4_conv")(x)
    x = layers.LayerNormalization(name="block4_ln")(x)
    x = layers.Reshape((-1, 128), name="to_tokens")(x)
    x = layers.MultiHeadAttention(num_heads, key_dim, name="attn2")(x, x)
    x = layers.Dense(200, name="attn2_proj")(x)
    x = layers.LayerNormalization(name="attn2_ln")(x)
    x = layers.Dropout(dropout, name="attn2_drop")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    x = layers.LayerNormalization(name="fc1_ln")(x)
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "attention_vit", build_attention_vit, "Ismail 2022 thesis §8.6 (text; states 197,799)", (324_567, 324_567, 0),
    cpu=cpu_preset(92_823, {"width": 0.5}, VIT_RECIPE,
                   why="0.32 M → 0.09 M parameters (4 CPU-min per epoch at full width)", epoch=2.93),
    # the thesis over-sampled before splitting: its figures hold for the leaky protocol only
    figures={"attention_vit": figure(74.97, THESIS_LEAKY),
             "attention_vit_thesis_protocol": figure(74.97, THESIS_LEAKY)})
