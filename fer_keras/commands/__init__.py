"""One console command for every CLI: ``fer-keras <command> [options]`` (installed by ``pip install -e .``),
the same as ``python -m fer_keras.<command> [options]``. Nothing heavy is imported before the command's own
argument parsing, so ``fer-keras <command> --help`` answers as fast as the module does."""

import runpy
import sys

COMMANDS = {
    "train": ("fer_keras.train", "train a named variant and evaluate it on its test split"),
    "evaluate": ("fer_keras.evaluate", "evaluate a run, a model file, or labelled photos (--photos DIR)"),
    "predict": ("fer_keras.predict", "emotions of the faces in photos, folders, video or the webcam"),
    "serve": ("fer_keras.serve", "a local web page and JSON API for the recognizer"),
    "ensemble": ("fer_keras.ensemble", "average or vote several runs (members chosen on the validation split)"),
    "soup": ("fer_keras.soup", "average the weights of runs fine-tuned from one start (a greedy model soup)"),
    "saliency": ("fer_keras.saliency", "where a run's model looks (gradient, Grad-CAM, occlusion)"),
    "eda": ("fer_keras.eda", "the data-centric report: duplicates, conflicts, outliers, leakage"),
    "data": ("fer_keras.data", "what a data source holds (info), the synthetic set"),
    "results": ("fer_keras.results", "gather results/*/metrics.json into results/README.md"),
    "diagnose": ("fer_keras.diagnose", "why a run predicts one class (live units, BatchNorm lag)"),
    "bench": ("fer_keras.bench", "training and inference speed per backend and dtype policy"),
    "tflite": ("fer_keras.tflite", "export a model to TFLite (int8)"),
}
"""Command → (module run as ``__main__``, one line for the overview)."""


def usage():
    width = max(map(len, COMMANDS))
    lines = ["usage: fer-keras <command> [options]   (each command's options: fer-keras <command> --help)", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"fer-keras: error: unknown command {command!r}; expected one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = COMMANDS[command][0]
    sys.argv = [f"fer-keras {command}", *rest]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as done:  # the module's own exit status
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
