"""Transfer-learning models of Białek et al. (2023): VGG16 (Table 7) and ResNet50 (Table 8).

Both take the dataset's 48×48×1 images in [0, 1]. Inside the graph the image is resized to
224×224 (``base_size``, the paper's size), its grey channel copied to three, and scaled to 0-255
minus the per-channel means of Keras' "caffe" preprocessing
(``keras.applications.vgg16/resnet50.preprocess_input``; grey input makes the RGB → BGR flip a
no-op). The paper's VGGFace / VGGFace2 weights used slightly different means; with
``weights="imagenet"`` these are the right ones.
"""

import os
import warnings
from pathlib import Path

import numpy as np

from fer_keras.errors import FERError
from fer_keras.models.blocks import classifier_head, conv_block, image_input
from fer_keras.models.family import FROM_SCRATCH, QUARTER, ModelFamily, bialek_figures, cpu_preset
from fer_keras.models.lazy import keras, layers

BASE_IMAGE_SIZE = 224
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
WEIGHT_SUFFIXES = (".weights.h5", ".keras", ".h5", ".hdf5")
VGG16_HEAD_FILTERS = (128, 256, 512, 1024)


def head_pool_padding(size):
    """A head block's pool padding for a ``size``×``size`` map: "valid" while the map is at least 2
    pixels, "same" at 1×1 (at base size 224 the table's 14 → 7 → 3 → 1 → 1)."""
    return "valid" if size >= 2 else "same"


def check_weights(weights):
    """Validate a ``weights=`` argument before any build work.

    Returns ``(weights for keras.applications, local path or None)``: ``None`` and ``"imagenet"``
    pass through (only ``"imagenet"`` downloads); a path must name an existing .weights.h5, .keras,
    .h5 or .hdf5 file, which is loaded into the base after it is built with random weights.
    """
    if weights is None or weights == "imagenet":
        return weights, None
    if not isinstance(weights, (str, os.PathLike)):
        raise FERError(f"weights must be None, 'imagenet' or a path to a weights file, got {weights!r}")
    path = Path(weights).expanduser()
    if not path.name.endswith(WEIGHT_SUFFIXES):
        raise FERError(f"weights file {path} must end in one of {', '.join(WEIGHT_SUFFIXES)}")
    if not path.is_file():
        raise FERError(f"weights file not found: {path} (weights= takes None, 'imagenet' or a local file)")
    return None, path


def load_base_weights(base, path, arch):
    """Load a local weights file into a keras.applications base, by layer name for legacy .h5.

    Weights the file lacks or shapes differently keep their random values (one short warning says
    how many); a file that sets no weight at all is an error.
    """
    initial = [keras.ops.convert_to_numpy(w) for w in base.weights]
    for w, value in zip(base.weights, initial):  # NaN marks what the file does not overwrite
        w.assign(np.full_like(value, np.nan))
    try:
        with warnings.catch_warnings():  # Keras' own mismatch warnings print whole tensors
            warnings.simplefilter("ignore")
            if path.name.endswith((".weights.h5", ".keras")):
                base.load_weights(str(path), skip_mismatch=True)
            else:
                base.load_weights(str(path), skip_mismatch=True, by_name=True)
    except (ValueError, KeyError, OSError, TypeError) as err:
        raise FERError(f"could not load weights from {path} into the {arch} base: {err}") from err
    missing = [i for i, w in enumerate(base.weights) if np.isnan(keras.ops.convert_to_numpy(w)).any()]
    for i in missing:
        base.weights[i].assign(initial[i])
    if len(missing) == len(initial):
        raise FERError(
            f"no weight in {path} matches the {arch} base; expected weights saved from "
            f"keras.applications.{arch}(include_top=False)"
        )
    if missing:
        warnings.warn(f"{len(missing)} of {len(initial)} weights of the {arch} base were not in {path} "
                      "and keep their random values", stacklevel=3)


def check_base_size(base_size, minimum=32, arch=None):
    """The base's input side: an int of at least ``minimum`` (32, the smallest most keras.applications
    accept; InceptionV3 needs 75)."""
    if isinstance(base_size, bool) or not isinstance(base_size, (int, np.integer)) or base_size < minimum:
        which = f" for {arch}" if arch else ""
        raise FERError(f"base_size must be an integer of at least {minimum} pixels{which} (the paper's is "
                       f"{BASE_IMAGE_SIZE}), got {base_size!r}")
    return int(base_size)


PREPROCESSING = ("caffe", "tf", "torch")


def grey_to_base_input(inputs, size=BASE_IMAGE_SIZE, preprocessing="caffe"):
    """48×48×1 in [0, 1] → size×size×3 as the base expects, as layers (no Lambda): "caffe" (VGG16,
    ResNet50: ×255 minus the BGR means), "tf" (ResNet50V2, InceptionV3, MobileNet: [-1, 1]) or
    "torch" (Bakiasi & Muça 2024's ImageNet normalisation, Keras' DenseNet/EfficientNetV2 "torch"
    mode: (x − mean) / std per RGB channel with ImageNet's ``IMAGENET_MEAN_RGB`` / ``IMAGENET_STD_RGB``)."""
    if inputs.shape[-1] != 1:
        raise FERError(f"transfer models take greyscale input (channels=1), got input shape {tuple(inputs.shape[1:])}")
    if preprocessing not in PREPROCESSING:
        raise FERError(f"preprocessing must be one of {', '.join(PREPROCESSING)}, got {preprocessing!r}")
    x = layers.Resizing(size, size, name="resize")(inputs)
    x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    if preprocessing == "tf":
        return layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    if preprocessing == "torch":
        variance = tuple(std ** 2 for std in IMAGENET_STD_RGB)
        return layers.Normalization(mean=IMAGENET_MEAN_RGB, variance=variance, name="imagenet_norm")(x)
    x = layers.Rescaling(255.0, name="to_255")(x)
    return layers.Normalization(mean=CAFFE_MEAN_BGR, variance=(1.0, 1.0, 1.0), name="caffe_mean")(x)


def pretrained_base(inputs, application, weights, base_size, name, arch, output_layer=None, pooling=None,
                    trainable=True, preprocessing="caffe", min_base_size=32):
    """The shared front of the transfer models: grey 48×48 → resized RGB preprocessed as the base
    expects ("caffe", "tf" or "torch", see :func:`grey_to_base_input`) →
    ``application`` (a ``keras.applications`` constructor, without its top) with ``weights`` None,
    "imagenet" or a local file, truncated at ``output_layer`` when given, as a nested model
    ``name``. ``base_size`` must be at least ``min_base_size``. Returns the base's output tensor."""
    app_weights, path = check_weights(weights)
    base_size = check_base_size(base_size, min_base_size, arch)
    x = grey_to_base_input(inputs, base_size, preprocessing)
    full = application(include_top=False, weights=app_weights, input_shape=(base_size, base_size, 3),
                       pooling=pooling, name=name)
    if path is not None:
        load_base_weights(full, path, arch)
    base = full if output_layer is None else keras.Model(full.inputs, full.get_layer(output_layer).output, name=name)
    base.trainable = trainable
    return base(x)


def build_vgg16_transfer(input_shape=(48, 48, 1), num_classes=7, binary=False, weights=None,
                         freeze_base=True, dropout=0.25, base_size=BASE_IMAGE_SIZE, name="vgg16_transfer"):
    """VGG16 transfer model, Białek et al. 2023, Table 7.

    Resize + grey → RGB + caffe preprocessing → VGG16 truncated after ``block5_conv1``
    (14×14×512; nested model ``vgg16_base``, frozen) → 4 × conv_block (128, 256, 512, 1024;
    14 → 7 → 3 → 1 → 1: pools padded "valid" down to 1×1, "same" on it) → GlobalAveragePooling2D
    → Dense softmax.
    With 7 classes: 16,794,823 parameters, 6,795,911 trainable, 9,998,912 non-trainable (the
    table's totals). The paper used VGGFace weights and trained with Adam 1e-4, batch 32.

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        weights: None (random), "imagenet" (downloaded by Keras) or a local file of
            ``keras.applications.VGG16(include_top=False)`` weights (.weights.h5, .keras, or a
            legacy .h5 loaded by layer name).
        freeze_base: keep the VGG16 layers frozen, as in the paper.
        dropout: dropout after each head block.
        base_size: side of the image the base sees: the paper's 224; smaller sizes (e.g. 96, 112)
            trade accuracy for speed on a CPU (the parameter totals stay the same).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = pretrained_base(inputs, keras.applications.VGG16, weights, base_size, "vgg16_base", "VGG16",
                        output_layer="block5_conv1", trainable=not freeze_base)
    for i, filters in enumerate(VGG16_HEAD_FILTERS, start=1):
        x = conv_block(x, filters, dropout, head_pool_padding(x.shape[1]), name=f"head{i}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


def build_resnet50_transfer(input_shape=(48, 48, 1), num_classes=7, binary=False, weights=None,
                            freeze_base=False, dense_units=2048, base_size=BASE_IMAGE_SIZE,
                            name="resnet50_transfer"):
    """ResNet50 transfer model, Białek et al. 2023, Table 8.

    Resize + grey → RGB + caffe preprocessing → ResNet50 (no top, average-pooled to 2048; nested
    model ``resnet50_base``, trainable) → Flatten → Dense 2048 ReLU → Dense softmax.
    With 7 classes: 27,798,407 parameters, 53,120 non-trainable (BatchNorm moving statistics).
    The paper states 27,771,847 for its VGGFace2 ResNet50 (0.096 % fewer; the 53,120 agree).

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        weights: None (random), "imagenet" (downloaded by Keras) or a local file of
            ``keras.applications.ResNet50(include_top=False)`` weights (.weights.h5, .keras, or a
            legacy .h5 loaded by layer name).
        freeze_base: freeze the ResNet50 layers (the paper's table trains them).
        dense_units: width of the hidden Dense layer.
        base_size: side of the image the base sees: the paper's 224; smaller sizes (e.g. 96, 112)
            trade accuracy for speed on a CPU (the parameter totals stay the same).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = pretrained_base(inputs, keras.applications.ResNet50, weights, base_size, "resnet50_base", "ResNet50",
                        pooling="avg", trainable=not freeze_base)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="fc1")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILIES = (
    ModelFamily("vgg16_transfer", build_vgg16_transfer, "Białek et al. 2023, Table 7",
                (16_794_823, 6_795_911, 9_998_912), preprocessing="caffe",
                cpu=cpu_preset(1_053_751, {**QUARTER, "base_size": 48, "freeze_base": False},
                               why=f"{FROM_SCRATCH}: the whole model trains", epoch=0.5),
                figures=bialek_figures("vgg16", (70.22, 69.44, 72.54, 71.78), 4.9)),
    ModelFamily("resnet50_transfer", build_resnet50_transfer, "Białek et al. 2023, Table 8 (states 27,771,847)",
                (27_798_407, 27_745_287, 53_120), preprocessing="caffe",
                cpu=cpu_preset(1_767_143, {**QUARTER, "base_size": 64}, why=FROM_SCRATCH, epoch=1.8),
                figures=bialek_figures("resnet50", (72.72, 72.83, 74.77, 74.47), 3.9)),
)
