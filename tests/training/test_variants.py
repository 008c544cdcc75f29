"""Variants are data: every entry names a real model, real cleaning steps and the seeds' settings."""

import subprocess
import sys

import pytest

from fer_keras import EMOTIONS
from fer_keras.data import eda
from fer_keras.data.splits import SPLIT_METHODS
from fer_keras.errors import FERError
from fer_keras.models import MODEL_BUILDERS
from fer_keras.data.pre_proc_data import PROTOCOLS, SAMPLINGS
from fer_keras.training.variants import DEFAULT_VARIANT, VARIANTS, get_variant

from conftest import REPO


def test_every_variant_is_buildable_from_its_parts():
    for variant in VARIANTS.values():
        assert variant.model in MODEL_BUILDERS, variant.name
        assert all(callable(getattr(eda, step)) for step in variant.cleaning), variant.name
        assert variant.sampling in SAMPLINGS and variant.protocol in PROTOCOLS, variant.name
        assert variant.split in SPLIT_METHODS, variant.name


def test_the_required_variants_exist():
    names = set(VARIANTS)
    for i, tag in enumerate(["regular", "no_duplicates", "no_conflicts", "no_outliers", "final"], start=1):
        for suffix in ("", "_smote", "_class_weight", "_none"):
            assert f"cnn_lstm_v{i}_{tag}{suffix}" in names
    for model in ("five_layer", "six_layer", "vgg16", "resnet50"):
        for data in ("original", "balanced", "filtered", "balanced_filtered"):
            assert f"{model}_{data}" in names
    for emotion in EMOTIONS:
        for model in ("five_layer", "six_layer", "resnet50"):
            assert get_variant(f"binary_{emotion}_{model}").binary_emotion == emotion
    assert DEFAULT_VARIANT in names and "attention_vit" in names


def test_seed_hyper_parameters():
    final = get_variant("cnn_lstm_v5_final")
    assert (final.learning_rate, final.batch_size, final.sampling) == (2e-3, 64, "ros")
    assert final.cleaning == ("remove_duplicates_with_diff_emotion", "drop_outlier_images")
    assert (final.callbacks.lr_factor, final.callbacks.lr_patience, final.callbacks.early_stopping_patience) == (
        0.1, 2, 5)
    assert get_variant("cnn_lstm_v1_regular").callbacks.early_stopping_patience == 8
    vit = get_variant("attention_vit")
    assert (vit.learning_rate, vit.callbacks.early_stopping_patience) == (2e-4, 4)
    five = get_variant("five_layer_balanced")
    assert (five.callbacks.lr_monitor, five.callbacks.lr_factor, five.callbacks.lr_patience) == (
        "val_accuracy", 0.4, 10)
    assert get_variant("vgg16_original").learning_rate == 1e-4
    assert get_variant("binary_happy_five_layer").epochs == 200
    leaky = get_variant("cnn_lstm_v5_final_thesis_protocol")
    assert leaky.protocol == "thesis" and "LEAKY" in leaky.description
    honest, leaky = get_variant("baseline_cnn_ros"), get_variant("baseline_cnn_thesis_protocol")
    assert (honest.protocol, leaky.protocol, leaky.split) == ("honest", "thesis", "stratified")
    assert {field: value for field, value in honest.to_dict().items() if value != leaky.to_dict()[field]} == {
        "name": "baseline_cnn_ros", "protocol": "honest", "split": "usage", "description": honest.description}


def test_trinh_protocol_variants_hold_out_training_weight_classes_augment_and_cite_their_figure():
    from fer_keras.models.paper_results import PAPER_RESULTS

    expected = {"googlenet_trinh": ("googlenet", 55.0), "resnet50v2_trinh": ("resnet50v2_trinh", 68.0),
                "patch_vit_trinh": ("patch_vit", 69.0),
                "spp_net_trinh": ("spp_net", 78.5), "inceptionv3_trinh": ("inceptionv3_transfer", 80.5)}
    for name, (model, accuracy) in expected.items():
        variant = get_variant(name)
        assert (variant.model, variant.split, variant.sampling, variant.augment_in_training) == (
            model, "training_holdout", "class_weight", True)
        assert f"{accuracy:g} %" in variant.reference and PAPER_RESULTS[name]["accuracy"] == accuracy
    assert get_variant("resnet50v2_trinh").epochs == 25
    assert "Trinh et al. 2023" in get_variant("patch_vit_trinh").reference
    assert "AffectNet" in get_variant("inceptionv3_trinh").reference


def test_unknown_variant_suggests_close_names():
    with pytest.raises(FERError, match="did you mean cnn_lstm_v5_final"):
        get_variant("cnn_lstm_v5_finl")


def test_train_cli_lists_variants_and_rejects_unknown_ones():
    listed = subprocess.run([sys.executable, "-m", "fer_keras.train", "--list"], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    variants, _, presets = listed.stdout.partition("\nCPU sizes")
    assert listed.returncode == 0 and len(variants.splitlines()) == len(VARIANTS)
    from fer_keras.models.presets import CPU_PRESETS

    assert len(presets.splitlines()) == 1 + len(CPU_PRESETS) and "rmn" in presets and "width=0.125" in presets
    bad = subprocess.run([sys.executable, "-m", "fer_keras.train", "--variant", "nope"], capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "unknown variant 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_ensemble_report_variants_carry_their_papers_settings_and_flag_the_unreproduced_figure():
    from fer_keras.models.paper_results import PAPER_RESULTS, paper_figure

    resemotenet = get_variant("resemotenet")
    assert (resemotenet.model, resemotenet.learning_rate, resemotenet.batch_size, resemotenet.epochs) == (
        "resemotenet", 1e-3, 16, 80)
    assert resemotenet.callbacks.early_stopping_patience == 15 and "SGD" in resemotenet.description
    assert PAPER_RESULTS["resemotenet"]["accuracy"] == 79.79
    assert "not reproduced" in paper_figure("resemotenet") and "79.79 %" in resemotenet.reference
    pattlite = get_variant("pattlite")
    assert (pattlite.model, pattlite.sampling, pattlite.learning_rate, pattlite.batch_size) == (
        "pattlite", "class_weight", 1e-3, 8)
    assert "not the batch" in pattlite.description
    assert "pattlite" not in PAPER_RESULTS  # the paper's FER2013 figure is not recorded (see the variant)


def test_residual_masking_network_variants_carry_the_authors_config_and_figures():
    from fer_keras.models.paper_results import PAPER_RESULTS

    for name, accuracy in [("resnet34", 72.42), ("cbam_resnet34", 73.39), ("rmn", 74.14)]:
        variant = get_variant(name)
        assert (variant.model, variant.learning_rate, variant.batch_size, variant.epochs) == (name, 1e-4, 48, 50)
        assert (variant.callbacks.lr_patience, variant.callbacks.early_stopping_patience) == (2, 8)
        assert PAPER_RESULTS[name]["accuracy"] == accuracy and f"{accuracy:g} %" in variant.reference
    assert "ResNet50" in PAPER_RESULTS["cbam_resnet34"]["source"]
