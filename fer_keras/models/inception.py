"""InceptionV3 (Szegedy et al. 2016), one of the three members of Bakiasi & Muça's (2024) majority vote.

48×48×1 in [0, 1] → resized inside the graph to ``base_size`` RGB, preprocessed as the base expects
("tf": [-1, 1], what Keras' ImageNet weights were trained on; "torch": Bakiasi's ImageNet mean/std
normalisation) → ``keras.applications.InceptionV3`` without its top, global-average-pooled to 2048
(nested model ``inceptionv3_base``) → Dropout → Dense softmax. Bakiasi & Muça fine-tuned it on
224×224 RGB AffectNet images and report 80.5 % for it alone (85.2 % for the vote).
"""

from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.family import BAKIASI_AFFECTNET, FROM_SCRATCH, QUARTER, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers
from fer_keras.models.transfer import BASE_IMAGE_SIZE, pretrained_base

INCEPTION_MIN_BASE_SIZE = 75
"""The smallest image side ``keras.applications.InceptionV3`` accepts."""


def build_inceptionv3_transfer(input_shape=(48, 48, 1), num_classes=7, binary=False, weights=None, freeze_base=False,
                               dropout=0.5, base_size=BASE_IMAGE_SIZE, preprocessing="tf",
                               name="inceptionv3_transfer"):
    """InceptionV3 base (GAP, 2048) → Dropout → Dense softmax (Bakiasi & Muça 2024's head is not
    published beyond "pretrained base + classifier"; this is the plain Keras-applications top).

    With 7 classes: 21,817,127 parameters, 21,782,695 trainable, 34,432 non-trainable (BatchNorm
    moving statistics); the totals do not depend on ``base_size``.

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        weights: None (random), "imagenet" (downloaded by Keras) or a local file of
            ``keras.applications.InceptionV3(include_top=False)`` weights (.weights.h5, .keras, or a
            legacy .h5 loaded by layer name).
        freeze_base: freeze the InceptionV3 layers (the paper fine-tunes them).
        dropout: before the output layer.
        base_size: side of the image the base sees: the paper's 224; at least 75 (InceptionV3's
            minimum); smaller sizes trade accuracy for speed on a CPU.
        preprocessing: "tf" ([-1, 1], Keras' InceptionV3 weights) or "torch" (ImageNet mean/std,
            Bakiasi's normalisation); see ``fer_keras.models.transfer.grey_to_base_input``.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = pretrained_base(inputs, keras.applications.InceptionV3, weights, base_size, "inceptionv3_base", "InceptionV3",
                        pooling="avg", trainable=not freeze_base, preprocessing=preprocessing,
                        min_base_size=INCEPTION_MIN_BASE_SIZE)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "inceptionv3_transfer", build_inceptionv3_transfer, "Szegedy et al. 2016; Bakiasi & Muça 2024 (member of the vote)",
    (21_817_127, 21_782_695, 34_432), preprocessing="tf",
    cpu=cpu_preset(1_379_879, {**QUARTER, "base_size": 112, "dropout": 0.0},
                   why=f"{FROM_SCRATCH}; 112 px, not the smallest 75: InceptionV3's stem divides by 10, and at 75 px "
                   "its first blocks see 7×7 maps and it does not learn (loss above ln 7 for 13 epochs); no dropout: "
                   "a budget-bound run underfits", epoch=2.26),
    figures={"inceptionv3_trinh": figure(80.5, BAKIASI_AFFECTNET)})
