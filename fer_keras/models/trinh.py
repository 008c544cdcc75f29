"""The ResNet50V2-based model of Trinh et al. (2023, §2.1.2).

48×48×1 in [0, 1] → resized inside the graph to ``base_size`` (the paper's 224) RGB in [-1, 1]
(ResNet50V2's "tf" preprocessing) → ResNet50V2 without its top (7×7×2048 at 224; nested model
``resnet50v2_base``) → Dropout 0.25 → BatchNorm → Flatten → Dense 64 → Dense 7 softmax. The
first Dense has the paper's 6,422,592 parameters (7·7·2048·64 + 64) at base size 224. The paper
trained 25 epochs (3 h 30 on its GPU) with class weights, augmentation and 20 % of Training held
out for validation, and reports 68 % on FER2013.
"""

from fer_keras.models.blocks import classifier_head, dense_bn_relu, image_input
from fer_keras.models.family import FROM_SCRATCH, QUARTER, TRINH, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers
from fer_keras.models.transfer import BASE_IMAGE_SIZE, pretrained_base


def build_resnet50v2_trinh(input_shape=(48, 48, 1), num_classes=7, binary=False, weights=None, freeze_base=False,
                           dropout=0.25, dense_units=64, base_size=BASE_IMAGE_SIZE, head_norm=True,
                           name="resnet50v2_trinh"):
    """ResNet50V2 base → Dropout → BatchNorm → Flatten → Dense ``dense_units`` ReLU → Dense softmax.

    At 48×48×1, base size 224, 7 classes: 29,996,231 parameters, 49,664 of them non-trainable
    (29,996,039 and 49,536 with ``head_norm=False``, whose Flatten → Dense 64 holds the paper's 6,422,592).

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        weights: None (random), "imagenet" (downloaded by Keras) or a local file of
            ``keras.applications.ResNet50V2(include_top=False)`` weights.
        freeze_base: freeze the ResNet50V2 layers (the paper fine-tunes them).
        dropout: before the BatchNorm.
        dense_units: width of the hidden Dense layer (the paper's 64).
        base_size: side of the image the base sees (224 in the paper; the Dense layer's size follows
            the base's 7×7 map at 224 — smaller sizes shrink it).
        head_norm: the hidden layer as Dense → BatchNorm → ReLU (``blocks.dense_bn_relu``), which cannot
            die (+192 parameters: a bias-free Dense and 4 × 64 BatchNorm ones); ``False`` gives the paper's
            Dense ReLU, all of whose 64 units died in a from-scratch run under the modern recipe (issue 21).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = pretrained_base(inputs, keras.applications.ResNet50V2, weights, base_size, "resnet50v2_base", "ResNet50V2",
                        trainable=not freeze_base, preprocessing="tf")
    x = layers.Dropout(dropout, name="head_drop")(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.Flatten(name="flatten")(x)
    x = (dense_bn_relu(x, dense_units, name="fc1") if head_norm
         else layers.Dense(dense_units, activation="relu", name="fc1")(x))
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "resnet50v2_trinh", build_resnet50v2_trinh, "Trinh et al. 2023, §2.1.2", (29_996_231, 29_946_567, 49_664),
    preprocessing="tf", cpu=cpu_preset(1_530_167, {**QUARTER, "base_size": 64}, why=FROM_SCRATCH, epoch=1.46),
    figures={"resnet50v2_trinh": figure(68.0, TRINH)})
