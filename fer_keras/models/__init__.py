"""The model zoo: one ``build_*`` function per architecture and a registry of their names."""

from fer_keras.models.attention import build_attention_vit
from fer_keras.models.blocks import classifier_head, conv_block
from fer_keras.models.cnn import build_baseline_cnn, build_five_layer_cnn, build_six_layer_cnn
from fer_keras.models.cnn_lstm import build_cnn_lstm, build_cnn_lstm_first
from fer_keras.models.fernet import build_fernet
from fer_keras.models.registry import MODEL_BUILDERS, MODEL_FAMILIES, ModelFamily, build_model, compile_model
from fer_keras.models.transfer import build_resnet50_transfer, build_vgg16_transfer

__all__ = [
    "MODEL_BUILDERS",
    "MODEL_FAMILIES",
    "ModelFamily",
    "build_attention_vit",
    "build_baseline_cnn",
    "build_cnn_lstm",
    "build_cnn_lstm_first",
    "build_fernet",
    "build_five_layer_cnn",
    "build_model",
    "build_resnet50_transfer",
    "build_six_layer_cnn",
    "build_vgg16_transfer",
    "classifier_head",
    "compile_model",
    "conv_block",
]
