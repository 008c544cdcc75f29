"""PAtt-Lite (Ngwe et al. 2024, "PAtt-Lite: Lightweight Patch and Attention MobileNet for
Challenging Facial Expression Recognition", §3 and the authors' notebook), with its attention
classifier corrected.

The authors' code pools the patch features to one vector per image and then applies dot-product
self-attention to the (batch, 32) matrix: the attention weights mix the *images of the batch*, so a
face's prediction depends on the faces it is batched with (acknowledged in their README and issue
#6). Here the same attention (``layers.Attention(use_scale=True)``: scaled dot product, one learned
scale) runs across the 2×2 = 4 patch tokens of each image, before pooling; the classifier is then
the paper's (Dropout → Dense 32 ReLU → BatchNorm → Dense softmax). The parameter count is unchanged.

Training is two-stage in the paper: the backbone frozen, then (``unfreeze_last_layers``) its last
layers trainable with their BatchNorm kept frozen, at a lower learning rate.
"""

from fer_keras.models import blocks
from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.family import FROM_SCRATCH, ModelFamily, cpu_preset
from fer_keras.models.lazy import keras, layers
from fer_keras.models.transfer import BASE_IMAGE_SIZE, pretrained_base

MOBILENET_CUT = "conv_dw_9_relu"
"""The authors' ``backbone.layers[-29]``: block 9's depthwise convolution (14×14×512 at 224), before
its pointwise one — the cut that gives the paper's 1.10 M parameters (after ``conv_pw_9_relu``
there would be 1.37 M)."""

BASE_NAME = "mobilenet_base"
PATCH_FILTERS = 256
PAPER_UNFREEZE = 59
"""The authors' fine-tuning unfreezes the last 59 layers of the truncated backbone: all of it (58
layers with its input), BatchNorm excepted."""

MIN_BASE_SIZE = 80
"""The smallest ``base_size`` that leaves one patch token (the cut map is base_size / 16)."""


def patch_extraction(x, filters=PATCH_FILTERS, name="patch"):
    """The paper's patch extraction block: SeparableConv2D 4×4/4 same → SeparableConv2D 2×2/2 valid →
    Conv2D 1×1, each ReLU (14 → 4 → 2 → 2 at base size 224), named ``{name}_sepconv1``,
    ``{name}_sepconv2``, ``{name}_conv``."""
    x = layers.SeparableConv2D(filters, 4, strides=4, padding="same", activation="relu", name=f"{name}_sepconv1")(x)
    x = layers.SeparableConv2D(filters, 2, strides=2, padding="valid", activation="relu",
                               name=f"{name}_sepconv2")(x)
    return layers.Conv2D(filters, 1, activation="relu", name=f"{name}_conv")(x)


def build_pattlite(input_shape=(48, 48, 1), num_classes=7, binary=False, weights=None, freeze_base=True,
                   base_size=BASE_IMAGE_SIZE, dropout=0.1, name="pattlite"):
    """PAtt-Lite, Ngwe et al. 2024 (Fig. 1, §3; attention corrected, see the module's note).

    Resize to ``base_size`` + grey → RGB + "tf" preprocessing ([-1, 1]) → MobileNetV1 (α = 1)
    truncated after block 9's depthwise convolution (nested model ``mobilenet_base``, 14×14×512)
    → patch extraction (4 × 4 → 2 × 2 × 256) → 4 tokens of 256 (``patch_tokens``) → scaled
    dot-product self-attention across the tokens (``attention``) → GlobalAveragePooling over the
    tokens → Dropout → Dense 32 ReLU → BatchNorm → Dense softmax.

    At 48×48×1 with 7 classes: 1,102,664 parameters (280,648 trainable with the backbone frozen;
    822,016 non-trainable: the backbone's 821,952 and the head BatchNorm's 64 statistics); the
    paper's "1.10 M" (the authors' 8-class head: 1,102,697). After ``unfreeze_last_layers(model)``:
    1,083,400 trainable, 19,264 non-trainable (the frozen BatchNorm layers). The totals do not
    depend on ``base_size``. The authors' augmentation layers (flip, contrast) belong to the data
    pipeline here.

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        weights: None (random), "imagenet" (downloaded by Keras) or a local file of
            ``keras.applications.MobileNet(include_top=False)`` weights.
        freeze_base: keep the backbone frozen (the paper's first stage); see ``unfreeze_last_layers``.
        base_size: side of the image the backbone sees: the paper's 224 (4 patch tokens); at least
            80 (one token below 208).
        dropout: before the Dense 32 (the paper's 0.1 in the first stage, 0.2 when fine-tuning).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = pretrained_base(inputs, keras.applications.MobileNet, weights, base_size, BASE_NAME, "MobileNet",
                        output_layer=MOBILENET_CUT, trainable=not freeze_base, preprocessing="tf",
                        min_base_size=MIN_BASE_SIZE)
    x = patch_extraction(x)
    x = layers.Reshape((-1, PATCH_FILTERS), name="patch_tokens")(x)
    x = layers.Attention(use_scale=True, name="attention")([x, x])
    x = layers.GlobalAveragePooling1D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    x = layers.Dense(32, activation="relu", name="fc")(x)
    x = layers.BatchNormalization(name="fc_bn")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


def unfreeze_last_layers(model, n=PAPER_UNFREEZE, base=BASE_NAME):
    """``blocks.unfreeze_last_layers`` with the paper's defaults: the last ``n`` layers of the
    truncated MobileNet trainable, BatchNorm kept frozen (the paper's 59: all of it). Returns ``model``."""
    return blocks.unfreeze_last_layers(model, n, base)


FAMILY = ModelFamily(
    "pattlite", build_pattlite, "Ngwe et al. 2024 (1.10 M; attention across patch tokens, not the batch)",
    (1_102_664, 280_648, 822_016), preprocessing="tf", backbone=BASE_NAME,
    cpu=cpu_preset(288_680, {"width": 0.5, "base_size": 96, "freeze_base": False},
                   why=f"{FROM_SCRATCH}: the backbone trains; at 96 px the cut map is 6×6, so the patch extraction "
                   "leaves one token (the paper's 2×2 need 208 px; 112 px costs 5.3 CPU-min per epoch in bfloat16); "
                   "float32: an epoch costs 2.66 CPU-min, with bfloat16 3.92 (its depthwise convolutions gain "
                   "nothing from bfloat16)", epoch=2.66, bfloat16=False))
# (the paper's FER2013 figure is not recorded: see the pattlite variant)
