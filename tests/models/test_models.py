"""The model zoo: parameter totals of DESIGN §3/§5, heads, registry, weights files, saving."""

import keras
import numpy as np
import pytest

from fer_keras.errors import FERError
from fer_keras.models import (
    MODEL_BUILDERS,
    MODEL_FAMILIES,
    build_attention_vit,
    build_cnn_lstm,
    build_five_layer_cnn,
    build_inceptionv3_transfer,
    build_model,
    build_pattlite,
    build_resemotenet,
    build_resnet50_transfer,
    build_six_layer_cnn,
    build_vgg16_transfer,
    compile_model,
)
from fer_keras.models.transfer import CAFFE_MEAN_BGR, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, grey_to_base_input

# name: (total, trainable, non-trainable) with weights=None, 48×48×1, 7 classes — the registry's data
PARAMETERS = {name: family.parameters for name, family in MODEL_FAMILIES.items()}


@pytest.fixture(scope="module")
def zoo():
    """Each registered model built once (weights=None) and shared by this module's tests."""
    built = {}

    def get(name):
        if name not in built:
            built[name] = build_model(name)
        return built[name]

    yield get
    built.clear()
    keras.backend.clear_session()


def images(n=2, shape=(48, 48, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape), dtype=np.float32)


def parameter_counts(model):
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return model.count_params(), model.count_params() - non_trainable, non_trainable


def test_registry_names_every_builder():
    assert set(MODEL_BUILDERS) == set(PARAMETERS)
    assert all(callable(builder) for builder in MODEL_BUILDERS.values())
    # the published totals the registry records, checked against the papers' tables (DESIGN §3/§5)
    assert PARAMETERS["five_layer_cnn"] == (16_307_207, 16_299_783, 7_424)
    assert PARAMETERS["six_layer_cnn"][0] == 34_545_159 and PARAMETERS["vgg16_transfer"][1] == 6_795_911


SMALL_FAMILIES = ["baseline_cnn", "cnn_lstm", "cnn_lstm_first", "attention_vit", "fernet_t", "patch_vit",
                  "spp_net"]


@pytest.mark.parametrize("name", SMALL_FAMILIES + ["five_layer_cnn"])
def test_each_family_builds_at_its_minimum_input_and_refuses_a_smaller_one(name):
    side = MODEL_FAMILIES[name].min_input
    model = build_model(name, input_shape=(side, side, 1))
    assert model.outputs[0].shape[1:] == (7,)
    with pytest.raises(ValueError, match=f"too small for {name}: each side must be at least {side}"):
        build_model(name, input_shape=(side - 1, side - 1, 1))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_every_family_reloads_in_safe_mode_with_equal_predictions(zoo, name, tmp_path):
    model = zoo(name)
    model.save(tmp_path / f"{name}.keras")
    reloaded = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
    x = images(seed=2)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_totals_match_the_design(zoo, name):
    model = zoo(name)
    assert model.name == name
    assert parameter_counts(model) == PARAMETERS[name]
    assert model.inputs[0].shape[1:] == (48, 48, 1)
    assert model.outputs[0].shape[1:] == (7,)


def test_resnet50_transfer_is_within_0_2_percent_of_the_paper(zoo):
    assert abs(zoo("resnet50_transfer").count_params() - 27_771_847) / 27_771_847 < 0.002


def test_transfer_bases_are_nested_frozen_vgg16_and_trainable_resnet50(zoo):
    vgg = zoo("vgg16_transfer").get_layer("vgg16_base")
    assert vgg.output.shape[1:] == (14, 14, 512) and not vgg.trainable
    assert zoo("vgg16_transfer").get_layer("head4_pool").output.shape[1:] == (1, 1, 1024)
    resnet = zoo("resnet50_transfer").get_layer("resnet50_base")
    assert resnet.output.shape[1:] == (2048,) and resnet.trainable


def test_cnn_layers_have_stable_names(zoo):
    five = zoo("five_layer_cnn")
    assert [five.get_layer(f"block{i}_pool").output.shape[1] for i in range(1, 6)] == [24, 12, 6, 3, 1]
    assert zoo("six_layer_cnn").get_layer("block6_pool").output.shape[1:] == (1, 1, 2048)
    assert zoo("cnn_lstm").get_layer("to_sequence").output.shape[1:] == (25, 128)


@pytest.mark.parametrize("name", ["five_layer_cnn", "cnn_lstm", "cnn_lstm_first", "attention_vit"])
def test_small_models_predict_probability_rows(zoo, name):
    probs = zoo(name).predict(images(), verbose=0)
    assert probs.shape == (2, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("builder", [build_cnn_lstm, build_attention_vit])
def test_binary_head_is_one_sigmoid_unit(builder):
    model = builder(binary=True)
    scores = model.predict(images(), verbose=0)
    assert scores.shape == (2, 1)
    assert np.all((scores > 0) & (scores < 1))


def test_builders_accept_other_shapes_and_class_counts():
    assert build_five_layer_cnn(input_shape=(64, 64, 1), num_classes=2).outputs[0].shape[1:] == (2,)
    assert build_six_layer_cnn(input_shape=(32, 32, 1), num_classes=3).outputs[0].shape[1:] == (3,)
    assert build_attention_vit(input_shape=(32, 32, 1), num_classes=2).outputs[0].shape[1:] == (2,)
    model = build_cnn_lstm(num_classes=2)
    assert model.predict(images(), verbose=0).shape == (2, 2)


def test_bad_class_count_or_shape_raises_fer_error():
    with pytest.raises(FERError, match="binary=True"):
        build_cnn_lstm(num_classes=1)
    with pytest.raises(FERError, match="input_shape"):
        build_cnn_lstm(input_shape=(48, 48))
    with pytest.raises(FERError, match="greyscale"):
        build_vgg16_transfer(input_shape=(48, 48, 3))


def test_outputs_stay_float32_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_cnn_lstm()
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.get_layer("block1_conv").compute_dtype == "float16"
    assert model.outputs[0].dtype == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("builder", [build_vgg16_transfer, build_resnet50_transfer])
def test_transfer_models_build_and_predict_at_base_size_32(builder):
    model = builder(base_size=32)
    assert model.get_layer("resize").output.shape[1:] == (32, 32, 1)
    probs = model.predict(images(), verbose=0)
    assert probs.shape == (2, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    if builder is build_vgg16_transfer:  # block5_conv1 is 2×2: the head pools 2 → 1 ("valid"), then "same"
        assert [model.get_layer(f"head{i}_pool").output.shape[1] for i in range(1, 5)] == [1, 1, 1, 1]
        assert model.count_params() == PARAMETERS["vgg16_transfer"][0]


def test_transfer_base_size_below_32_raises_fer_error():
    with pytest.raises(FERError, match="base_size"):
        build_resnet50_transfer(base_size=16)


def test_grey_input_becomes_caffe_preprocessed_224_rgb():
    inputs = keras.Input((48, 48, 1))
    prep = keras.Model(inputs, grey_to_base_input(inputs))
    x = np.full((1, 48, 48, 1), 0.5, dtype=np.float32)
    out = keras.ops.convert_to_numpy(prep(x))
    assert out.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(out[0, 100, 100], 127.5 - np.array(CAFFE_MEAN_BGR), rtol=1e-5)


def test_torch_preprocessing_is_imagenet_mean_and_std_on_grey_copied_to_rgb():
    inputs = keras.Input((48, 48, 1))
    front = grey_to_base_input(inputs, size=32, preprocessing="torch")
    prep = keras.Model(inputs, front)
    out = keras.ops.convert_to_numpy(prep(np.full((1, 48, 48, 1), 0.5, dtype=np.float32)))
    assert out.shape == (1, 32, 32, 3)
    expected = (0.5 - np.array(IMAGENET_MEAN_RGB)) / np.array(IMAGENET_STD_RGB)  # ≈ (0.066, 0.196, 0.418)
    np.testing.assert_allclose(out[0, 10, 20], expected, rtol=1e-5)
    np.testing.assert_allclose(out[0].reshape(-1, 3).std(axis=0), 0, atol=1e-5)  # constant in, constant out
    assert isinstance(prep.get_layer("imagenet_norm"), keras.layers.Normalization)
    with pytest.raises(FERError, match="preprocessing must be one of caffe, tf, torch, got 'imagenet'"):
        grey_to_base_input(keras.Input((48, 48, 1)), preprocessing="imagenet")


@pytest.mark.slow
def test_inceptionv3_transfer_pools_a_trainable_base_and_keeps_its_totals_at_base_size_75(zoo):
    base = zoo("inceptionv3_transfer").get_layer("inceptionv3_base")
    assert base.output.shape[1:] == (2048,) and base.trainable
    assert MODEL_FAMILIES["inceptionv3_transfer"].preprocessing == "tf"
    small = build_inceptionv3_transfer(base_size=75, preprocessing="torch", num_classes=3)
    assert small.get_layer("resize").output.shape[1:] == (75, 75, 1)
    assert small.get_layer("imagenet_norm").output.shape[1:] == (75, 75, 3)
    probs = small.predict(images(), verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    frozen = build_inceptionv3_transfer(base_size=75, freeze_base=True)
    assert parameter_counts(frozen)[1] == 2048 * 7 + 7  # only the head trains


def test_inceptionv3_transfer_refuses_a_base_size_below_75_in_one_line():
    with pytest.raises(FERError, match=r"at least 75 pixels for InceptionV3 .*got 74$") as err:
        build_model("inceptionv3_transfer", base_size=74)
    assert "\n" not in str(err.value)


def test_build_model_unknown_name_raises_fer_error_naming_known_models():
    with pytest.raises(FERError) as err:
        build_model("nope")
    message = str(err.value)
    assert "'nope'" in message and "\n" not in message
    assert all(name in message for name in MODEL_BUILDERS)


def test_build_model_passes_arguments_to_the_builder():
    model = build_model("cnn_lstm_first", num_classes=3, name="tiny")
    assert model.name == "tiny" and model.outputs[0].shape[1:] == (3,)


@pytest.mark.parametrize("builder", [build_vgg16_transfer, build_resnet50_transfer, build_inceptionv3_transfer,
                                     build_pattlite])
def test_missing_weights_file_raises_before_building(builder, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the base was built")

    for application in ("VGG16", "ResNet50", "InceptionV3", "MobileNet"):
        monkeypatch.setattr(keras.applications, application, fail)
    with pytest.raises(FERError, match="not found"):
        builder(weights=tmp_path / "absent.weights.h5")
    (tmp_path / "weights.txt").write_text("x")
    with pytest.raises(FERError, match="must end in"):
        builder(weights=tmp_path / "weights.txt")


def test_vgg16_transfer_loads_base_weights_from_a_local_file(tmp_path):
    source = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    source.save_weights(path)
    base = build_vgg16_transfer(weights=str(path)).get_layer("vgg16_base")
    for layer in ("block1_conv1", "block5_conv1"):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(base.get_layer(layer).kernel),
                                      keras.ops.convert_to_numpy(source.get_layer(layer).kernel))


def test_weights_file_for_another_model_raises_fer_error(tmp_path):
    path = tmp_path / "dense.weights.h5"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).save_weights(path)
    with pytest.raises(FERError, match="no weight"):
        build_vgg16_transfer(weights=path)


def test_compile_model_picks_the_loss_from_the_head():
    softmax = compile_model(build_model("cnn_lstm_first"), learning_rate=2e-3)
    assert softmax.loss == "categorical_crossentropy"
    assert float(keras.ops.convert_to_numpy(softmax.optimizer.learning_rate)) == pytest.approx(2e-3)
    sigmoid = compile_model(build_model("cnn_lstm_first", binary=True))
    assert sigmoid.loss == "binary_crossentropy"
    with pytest.raises(FERError, match="does not match"):
        compile_model(build_model("cnn_lstm_first"), binary=True)
    with pytest.raises(FERError, match="unknown optimizer"):
        compile_model(build_model("cnn_lstm_first"), optimizer="nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["baseline_cnn", "fernet_t", "fernet_s", "patch_vit", "spp_net"])
def test_small_models_train_one_step_and_reload_in_safe_mode(name, tmp_path):
    """Runs under every backend CI installs: build, one SGD step, save, safe-mode reload, same outputs."""
    model = compile_model(build_model(name), optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                          label_smoothing=0.1)
    x = images(8)
    y = np.eye(7, dtype="float32")[np.arange(8) % 7]
    before = model.predict(x, verbose=0)
    loss = model.train_on_batch(x, y)
    assert np.isfinite(np.asarray(loss)).all()
    after = model.predict(x, verbose=0)
    assert not np.allclose(before, after)
    model.save(tmp_path / f"{name}.keras")
    reloaded = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), after, atol=1e-5)


def test_resnet50v2_trinh_has_the_papers_dense_layer_and_tf_preprocessing(zoo):
    model = zoo("resnet50v2_trinh")
    # a bias-free Dense before its BatchNorm (head_norm, issue 21): the paper's 6,422,592 less the 64 biases
    assert model.get_layer("fc1").count_params() == 6_422_528 and model.get_layer("fc1_bn").count_params() == 256
    from fer_keras.models import build_model

    paper = build_model("resnet50v2_trinh", head_norm=False)
    assert paper.get_layer("fc1").count_params() == 6_422_592  # Trinh et al. 2023 §2.1.2
    assert model.get_layer("resnet50v2_base").output.shape[1:] == (7, 7, 2048)
    assert MODEL_FAMILIES["resnet50v2_trinh"].preprocessing == "tf"
    front = keras.Model(model.inputs, model.get_layer("to_minus1_1").output)
    found = keras.ops.convert_to_numpy(front(np.stack([np.zeros((48, 48, 1)), np.ones((48, 48, 1))]).astype("float32")))
    np.testing.assert_allclose([found[0].min(), found[0].max(), found[1].min(), found[1].max()], [-1, -1, 1, 1],
                               atol=1e-5)


def test_spp_net_classifies_images_of_any_size_with_one_model():
    from fer_keras.models import build_spp_net

    model = build_spp_net(input_shape=(None, None, 1), widths=(8, 16, 32))
    for side in (48, 64, 40, 8):
        probabilities = model.predict(images(2, (side, side, 1)), verbose=0)
        assert probabilities.shape == (2, 7) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert model.get_layer("spp").output.shape[-1] == 32 * (1 + 4 + 16)


def test_model_overrides_parse_values_and_refuse_unknown_builder_arguments():
    from fer_keras.models.registry import model_overrides

    assert model_overrides("fernet_t", ["model.width=8", "model.dropout=0.5"]) == {"width": 8, "dropout": 0.5}
    for bad in ("nan", "inf", "-inf", "1e999", "lots"):
        with pytest.raises(FERError, match=f"dropout takes a finite number, got '{bad}'"):
            model_overrides("fernet_t", [f"model.dropout={bad}"])
    assert model_overrides("vgg16_transfer", ["model.weights=None", "model.base_size=112"]) == {
        "weights": None, "base_size": 112}
    with pytest.raises(FERError, match="fernet_t takes model.KEY=VALUE with KEY one of width, depth, dropout"):
        model_overrides("fernet_t", ["model.size=m"])
    # a bool parameter takes true/false in any case: "false" once arrived as a truthy string and froze a base
    for text, value in (("false", False), ("False", False), ("0", False), ("TRUE", True), ("yes", True)):
        assert model_overrides("vgg16_transfer", [f"model.freeze_base={text}"]) == {"freeze_base": value}
    with pytest.raises(FERError, match="freeze_base takes true or false, got 'maybe'"):
        model_overrides("vgg16_transfer", ["model.freeze_base=maybe"])


def test_fernet_validates_its_size_and_depth():
    from fer_keras.models import build_fernet

    with pytest.raises(ValueError, match="size must be one of t, s, m, got 'xl'"):
        build_fernet(size="xl")
    with pytest.raises(ValueError, match="depth must be at least 1"):
        build_fernet(depth=0)
    assert build_fernet(width=8, depth=1).count_params() < build_model("fernet_t").count_params()


GOOGLENET_TRAINING_PARAMETERS = (6_406_421, 6_391_349, 15_072)
"""build_googlenet(auxiliary=True) at 48×48×1, 7 classes: the inference model's totals + two aux heads."""


@pytest.mark.slow
def test_googlenet_has_aux_heads_on_4a_and_4d_in_training_only():
    from fer_keras.models import build_googlenet, inference_model

    training = build_googlenet(auxiliary=True)
    assert training.output_names == ["predictions", "aux1", "aux2"]
    assert [tuple(output.shape[1:]) for output in training.outputs] == [(7,)] * 3
    assert parameter_counts(training) == GOOGLENET_TRAINING_PARAMETERS
    assert MODEL_FAMILIES["googlenet"].aux_outputs
    for head, module, channels in [("aux1", "inception_4a", 512), ("aux2", "inception_4d", 528)]:
        pool = training.get_layer(f"{head}_pool")
        assert pool.input.shape[1:] == (6, 6, channels) and pool.pool_size == (5, 5) and pool.strides == (3, 3)
        assert pool.output.shape[1:] == (1, 1, channels)
        assert training.get_layer(f"{head}_fc").count_params() == 128 * 1024 + 1024
        assert training.get_layer(f"{head}_drop").rate == 0.7
    inference = inference_model(training)
    assert len(inference.outputs) == 1 and inference.output_names == ["predictions"]
    assert parameter_counts(inference) == PARAMETERS["googlenet"]
    assert not [layer.name for layer in inference.layers if layer.name.startswith("aux")]
    # the same layer names with and without the heads: weights move between the two by name
    assert [layer.name for layer in inference.layers] == [layer.name for layer in build_model("googlenet").layers]
    x = images(3)
    np.testing.assert_allclose(inference.predict(x, verbose=0), training.predict(x, verbose=0)[0], atol=1e-6)
    assert inference_model(inference) is inference


def test_googlenet_aux_pool_shrinks_to_a_map_smaller_than_5():
    from fer_keras.models import build_googlenet

    model = build_googlenet(input_shape=(16, 16, 1), auxiliary=True, num_classes=3)
    pool = model.get_layer("aux1_pool")
    assert pool.input.shape[1:3] == (2, 2) and pool.pool_size == (2, 2)
    assert [tuple(output.shape[1:]) for output in model.outputs] == [(3,)] * 3


@pytest.mark.slow
def test_googlenet_trains_on_main_loss_plus_0_3_of_each_aux_loss(tmp_path):
    """Runs under every backend CI installs: the weighted loss, one step, the shared inference model."""
    from fer_keras.training.batches import per_output
    from fer_keras.models import build_googlenet, inference_model

    model = compile_model(build_googlenet(auxiliary=True), optimizer=keras.optimizers.SGD(0.01))
    x = images(8, seed=4)
    y = np.eye(7, dtype="float32")[np.arange(8) % 7]
    targets = per_output(y, model.output_names)
    logs = model.evaluate(x, targets, verbose=0, return_dict=True)
    assert {"loss", "predictions_loss", "aux1_loss", "aux2_loss", "predictions_accuracy"} <= set(logs)
    assert logs["loss"] == pytest.approx(logs["predictions_loss"] + 0.3 * logs["aux1_loss"] + 0.3 * logs["aux2_loss"],
                                         rel=1e-5)
    crossentropy = [float(np.mean(keras.ops.convert_to_numpy(keras.losses.categorical_crossentropy(y, p))))
                    for p in model.predict(x, verbose=0)]
    assert logs["loss"] == pytest.approx(crossentropy[0] + 0.3 * crossentropy[1] + 0.3 * crossentropy[2], rel=1e-4)
    inference = inference_model(model)
    before = inference.predict(x, verbose=0)
    loss = model.train_on_batch(x, targets, sample_weight=np.linspace(0.5, 2, 8, dtype="float32"))
    assert np.isfinite(np.asarray(loss)).all()
    after = inference.predict(x, verbose=0)
    assert not np.allclose(before, after)  # the inference model sees the trained weights
    inference.save(tmp_path / "googlenet.keras")
    reloaded = keras.saving.load_model(tmp_path / "googlenet.keras", safe_mode=True)
    assert len(reloaded.outputs) == 1
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), after, atol=1e-5)


def test_resemotenet_follows_the_paper_and_the_authors_code(zoo):
    model = zoo("resemotenet")
    assert model.get_layer("resize").output.shape[1:] == (64, 64, 1)  # the paper's 64×64, in the graph
    assert MODEL_FAMILIES["resemotenet"].preprocessing == "torch"
    assert [model.get_layer(f"stem{i}_pool").output.shape[1:] for i in (1, 2, 3)] == [
        (32, 32, 64), (16, 16, 128), (8, 8, 256)]
    assert [model.get_layer(f"stem{i}_drop").rate for i in (1, 2)] == [0.2, 0.2]
    assert "stem3_drop" not in [layer.name for layer in model.layers]
    assert model.get_layer("se_reduce").count_params() == 256 * 16  # no biases
    assert model.get_layer("se_expand").count_params() == 16 * 256
    assert isinstance(model.get_layer("se_scale"), keras.layers.Multiply)
    assert [model.get_layer(f"res{i}_out").output.shape[1:] for i in (1, 2, 3)] == [
        (4, 4, 512), (2, 2, 1024), (1, 1, 2048)]
    assert model.get_layer("res3_proj").strides == (2, 2) and model.get_layer("res3_proj_bn")  # the authors' BN
    assert [model.get_layer(f"fc{i}").units for i in (1, 2, 3)] == [1024, 512, 256]
    assert [model.get_layer(f"fc{i}_drop").rate for i in (1, 2, 3)] == [0.5, 0.5, 0.5]
    assert model.get_layer("stem1_conv").kernel.shape == (3, 3, 3, 64)  # grey copied to RGB, as the authors
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Lambda)]


def test_resemotenet_keeps_its_totals_at_48_and_shrinks_with_width():
    native = build_resemotenet(base_size=48)
    assert native.get_layer("res3_out").output.shape[1:3] == (1, 1)
    assert parameter_counts(native) == PARAMETERS["resemotenet"]
    small = build_resemotenet(width=0.125, num_classes=3)
    assert small.get_layer("res3_out").output.shape[-1] == 256
    assert small.count_params() == 2_137_395  # the Dense head keeps its widths
    probs = small.predict(images(3), verbose=0)
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"base_size": 4}, "base_size must be an integer of at least 8 pixels"),
    ({"width": 0}, "width must be a number in"),
    ({"input_shape": (48, 48, 3)}, "greyscale"),
])
def test_resemotenet_refuses_bad_arguments_in_one_line(kwargs, message):
    with pytest.raises(FERError, match=message) as err:
        build_resemotenet(**kwargs)
    assert "\n" not in str(err.value)


def test_pattlite_cuts_mobilenet_at_block_9_and_attends_over_4_patch_tokens(zoo):
    model = zoo("pattlite")
    base = model.get_layer("mobilenet_base")
    assert base.output.shape[1:] == (14, 14, 512) and base.layers[-1].name == "conv_dw_9_relu"
    assert not base.trainable and MODEL_FAMILIES["pattlite"].preprocessing == "tf"
    assert model.get_layer("patch_conv").output.shape[1:] == (2, 2, 256)
    assert model.get_layer("patch_tokens").output.shape[1:] == (4, 256)
    assert model.get_layer("attention").output.shape[1:] == (4, 256)
    assert model.get_layer("attention").count_params() == 1  # the paper's learned scale
    assert model.get_layer("fc").units == 32 and model.get_layer("head_drop").rate == 0.1
    assert build_pattlite(num_classes=8).count_params() == 1_102_697  # the paper's 1.10 M (8 classes)


def test_pattlite_prediction_does_not_depend_on_the_rest_of_the_batch(zoo):
    model = zoo("pattlite")
    faces = images(6, seed=7)
    alone = model.predict(faces[:1], verbose=0)
    for seed in (1, 2):
        others = images(5, seed=seed)
        batch = np.concatenate([faces[:1], others]) if seed == 1 else np.concatenate([others, faces[:1]])
        row = 0 if seed == 1 else -1
        np.testing.assert_allclose(model.predict(batch, verbose=0)[row], alone[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(faces, verbose=0)[0], alone[0], rtol=1e-5, atol=1e-6)


def test_pattlite_needs_a_base_size_that_leaves_a_patch_token():
    assert build_pattlite(base_size=80).get_layer("patch_tokens").output.shape[1:] == (1, 256)
    with pytest.raises(FERError, match="at least 80 pixels for MobileNet"):
        build_pattlite(base_size=79)


def test_pattlite_unfreeze_last_layers_trains_the_backbone_tail_with_batchnorm_frozen():
    from fer_keras.models import unfreeze_last_layers

    model = build_pattlite(base_size=96)
    base = model.get_layer("mobilenet_base")
    head_weights = len(model.trainable_weights)
    assert head_weights == 15  # the patch convolutions' 8, the attention's scale, Dense / BN 6
    assert parameter_counts(model)[1] == PARAMETERS["pattlite"][1]
    unfreeze_last_layers(model, 6)  # conv_pw_8, its BN and ReLU; conv_dw_9, its BN and ReLU
    trainable = [layer.name for layer in base.layers if layer.trainable_weights]
    assert trainable == ["conv_pw_8", "conv_dw_9"]
    assert len(model.trainable_weights) == head_weights + 2
    assert unfreeze_last_layers(model) is model  # the paper's 59: the whole truncated backbone
    batchnorm = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(batchnorm) == 18 and not any(layer.trainable for layer in batchnorm)
    assert len(model.trainable_weights) == head_weights + 18  # conv1, 8 × (dw, pw), dw_9; no BN weights
    assert parameter_counts(model) == (1_102_664, 1_083_400, 19_264)
    with pytest.raises(FERError, match="no backbone layer 'mobilenet_base'"):
        unfreeze_last_layers(build_model("baseline_cnn"))


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", [
    ("resemotenet", {"width": 0.125}), ("pattlite", {}),
    # tracing the large ResNet34 graphs takes 15–25 s each; rmn holds the plain ResNet34 body
    pytest.param("cbam_resnet34", {"width": 0.25}, marks=pytest.mark.slow),
    pytest.param("rmn", {"width": 0.25}, marks=pytest.mark.slow),
    # the transfer bases of issue 15 at their smallest input (random weights)
    pytest.param("inceptionv3_transfer", {"base_size": 75}, marks=pytest.mark.slow),
    pytest.param("resnet50v2_trinh", {"base_size": 32}, marks=pytest.mark.slow),
])
def test_new_families_train_one_step_and_reload_in_safe_mode(name, kwargs, tmp_path):
    """Runs under every backend CI installs (the big families at a fraction of their width)."""
    model = compile_model(build_model(name, **kwargs), optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    x = images(8, seed=5)
    y = np.eye(7, dtype="float32")[np.arange(8) % 7]
    before = model.predict(x, verbose=0)
    assert np.isfinite(np.asarray(model.train_on_batch(x, y))).all()
    after = model.predict(x, verbose=0)
    assert not np.allclose(before, after)
    model.save(tmp_path / f"{name}.keras")
    reloaded = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), after, atol=1e-5)


def test_resnet34_has_basic_blocks_3_4_6_3_and_the_small_stem_keeps_48_to_3(zoo):
    model = zoo("resnet34")
    blocks = [name for name in (layer.name for layer in model.layers) if name.endswith("_out")]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert [model.get_layer(f"stage{s}_block1_out").output.shape[1:] for s in (1, 2, 3, 4)] == [
        (24, 24, 64), (12, 12, 128), (6, 6, 256), (3, 3, 512)]
    assert [f"stage{s}_block1_proj_conv" in [layer.name for layer in model.layers] for s in (1, 2, 3, 4)] == [
        False, True, True, True]  # projections where the shape changes, as torchvision's


def test_cbam_resnet34_gates_channels_then_space_in_every_block(zoo):
    model = zoo("cbam_resnet34")
    assert sum(layer.name.endswith("_cbam_spatial_gate") for layer in model.layers) == 16
    assert model.get_layer("stage4_block3_cbam_mlp1").units == 512 // 16
    assert model.get_layer("stage1_block1_cbam_spatial_conv").kernel.shape == (7, 7, 2, 1)
    assert model.count_params() - zoo("resnet34").count_params() == 162_828
    from fer_keras.models.layers import ChannelPool

    pooled = keras.ops.convert_to_numpy(ChannelPool()(np.array([[[[1.0, 2.0, 6.0]]]], dtype="float32")))
    np.testing.assert_allclose(pooled, [[[[6.0, 3.0]]]])


def test_rmn_masks_each_stage_by_x_times_one_plus_a_channel_softmax(zoo):
    model = zoo("rmn")
    for stage, depth, side, channels in [(1, 4, 24, 64), (2, 3, 12, 128), (3, 2, 6, 256), (4, 1, 3, 512)]:
        assert model.get_layer(f"mask{stage}_down{depth}_out").output.shape[-1] == channels * 2 ** depth
        assert f"mask{stage}_down{depth + 1}_out" not in [layer.name for layer in model.layers]
        assert model.get_layer(f"mask{stage}_softmax").output.shape[1:] == (side, side, channels)
    assert model.get_layer("head_drop").rate == 0.4
    stage = keras.Model(model.inputs, [model.get_layer(name).output for name in (
        "stage1_block3_out", "mask1_softmax", "stage1_masked")])
    x, mask, masked = (keras.ops.convert_to_numpy(t) for t in stage([images(2, seed=3)]))
    np.testing.assert_allclose(mask.sum(axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(masked, x * (1 + mask), rtol=1e-5, atol=1e-6)


def test_rmn_builds_in_the_papers_form_and_refuses_a_first_stage_not_a_multiple_of_8():
    from fer_keras.models import build_rmn

    paper = build_rmn(input_shape=(224, 224, 3), stem="imagenet")
    assert paper.get_layer("stage4_masked").output.shape[1:] == (7, 7, 512)
    assert parameter_counts(paper) == (137_874_247, 137_796_423, 77_824)  # the paper states 142.9 M
    assert build_rmn(width=0.25).count_params() == 8_646_967
    with pytest.raises(FERError, match=r"gives a 20×20 first stage: .* multiple of 8") as err:
        build_model("rmn", input_shape=(40, 40, 1))
    assert "\n" not in str(err.value)
    with pytest.raises(FERError, match="stem must be one of small, imagenet"):
        build_rmn(stem="tiny")


@pytest.mark.slow
def test_the_packaged_model_loads_in_safe_mode_on_this_backend():
    """CI runs this module under TensorFlow and JAX: the shipped FERNet-S loads on each."""
    from fer_keras.models.pretrained import default_model_path

    model = keras.saving.load_model(default_model_path(), safe_mode=True, compile=False)
    probabilities = np.asarray(model.predict(images(3, seed=7), verbose=0))
    assert probabilities.shape == (3, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
