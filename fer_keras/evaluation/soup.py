"""Model soups (Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned models improves
accuracy without increasing inference time"): one model whose weights are the average of several runs
fine-tuned from the same start — much of an ensemble's gain at one model's cost.

``python -m fer_keras.soup --members RUN RUN ...`` makes the *greedy* soup: the runs in order of their own
validation accuracy (FER2013's PublicTest), each added only if the average's validation accuracy does not
fall. Every weight is averaged, BatchNorm's moving statistics too. The soup is written as a run folder
(``callbacks/<name>/``: ``best.keras``, the best ingredient's config and splits, ``soup.json`` with the
choice), so ``evaluate --run``, ``--init`` and ``--teacher`` take it like any run. Runs of other starts
average into a poor model; the greedy rule then leaves them out. ``packaged`` among the members is the
shipped FERNet-S (as ``--init packaged``; it joins last): runs fine-tuned from it can be souped with it.
"""

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras.cli import user_errors_exit
from fer_keras.errors import FERError
from fer_keras.runs.config import CONFIG
from fer_keras.runs.folder import BEST, TEST_SPLIT, VAL_SPLIT, Run
from fer_keras.training.distill import PACKAGED, packaged_teacher

COPIED = (CONFIG, TEST_SPLIT, VAL_SPLIT)
"""What the soup's run folder takes from its best ingredient."""


def average_weights(weight_lists):
    """The element-wise mean of several models' ``get_weights()`` lists (same architecture)."""
    shapes = [[w.shape for w in weights] for weights in weight_lists]
    if any(s != shapes[0] for s in shapes[1:]):
        raise FERError("the soup's runs have different architectures: their weights cannot be averaged")
    return [np.mean([np.asarray(w, dtype=np.float64) for w in group], axis=0).astype(group[0].dtype)
            for group in zip(*weight_lists)]


def greedy_soup(weight_lists, accuracy_of):
    """Wortsman et al.'s greedy soup: ingredients by their own score ``accuracy_of(weights)``, best first;
    each joins if the soup's score does not fall. Returns (chosen indices, each one's own score, and the path:
    [(index, the soup's score with it, kept)])."""
    alone = [accuracy_of(weights) for weights in weight_lists]
    order = sorted(range(len(weight_lists)), key=lambda i: -alone[i])
    chosen, best, path = [order[0]], alone[order[0]], [(order[0], alone[order[0]], True)]
    for index in order[1:]:
        score = accuracy_of(average_weights([weight_lists[i] for i in chosen + [index]]))
        kept = score >= best
        path.append((index, score, kept))
        if kept:
            chosen, best = chosen + [index], score
    return chosen, alone, path


def uniform_soup(weight_lists, accuracy_of):
    """Wortsman et al.'s uniform soup: every ingredient, in the order given; returns what :func:`greedy_soup`
    does (each ingredient's own score, and the path of the growing average's scores)."""
    alone = [accuracy_of(weights) for weights in weight_lists]
    path = [(i, accuracy_of(average_weights(weight_lists[:i + 1])), True) for i in range(len(weight_lists))]
    return list(range(len(weight_lists))), alone, path


def make_soup(members, output_dir="callbacks", name=None, data=None, uniform=False):
    """The greedy soup (``uniform``: the uniform one) of the runs ``members`` (honest runs of one split and
    architecture), scored on their validation split; written to ``output_dir/<name>/`` (default
    ``soup-<time>``). Returns the folder and the ``soup.json`` record."""
    from fer_keras.evaluation.ensemble import check_members, shared_validation_split
    from fer_keras.evaluation.evaluate import read_config
    from fer_keras.runs.folder import check_output_dir
    from fer_keras.runs.model_files import load_model

    out = Path(check_output_dir(output_dir)) / (name or f"soup-{datetime.now():%Y%m%d-%H%M%S}")
    if name is not None and (Path(name).name != name or name.startswith(".")):
        raise FERError(f"--name {name!r}: give a plain folder name (no '/', not starting with '.')")
    if out.exists():
        raise FERError(f"{out} exists already; give another --name")
    if len(members) < 2:
        raise FERError(f"a soup averages two runs or more, got {len(members)}")
    packaged = PACKAGED in map(str, members)
    run_dirs = [Path(m) for m in members if str(m) != PACKAGED]
    if len(run_dirs) != len(members) - packaged:
        raise FERError(f"--members lists {PACKAGED} twice")
    configs = [read_config(d) for d in run_dirs]
    if len(run_dirs) > 1:
        check_members(run_dirs, configs, "mean")  # seven-class runs tested on one split
    leaky = [d.name for d, c in zip(run_dirs, configs) if c.leaky]
    if leaky:
        raise FERError(f"a soup is chosen on the validation split, which {', '.join(leaky)} trained on (LEAKY); "
                       "make soups of honest runs")
    val = shared_validation_split(run_dirs, configs, data, need="a soup needs runs validated on the same images")
    bests = [Run(d).best for d in run_dirs]
    cpu_minutes = [_train_cpu_minutes(Run(d)) for d in run_dirs]
    if packaged:  # an ingredient without a run folder: the card says what it cost
        from fer_keras.models.pretrained import model_card

        bests.append(_packaged_best(configs))
        cpu_minutes.append(model_card().get("train_cpu_minutes"))
        run_dirs.append(Path(PACKAGED))  # last: the indices below len(configs) are run folders
    models = [load_model(best) for best in bests]
    weight_lists = [m.get_weights() for m in models]
    shapes = [[w.shape for w in weights] for weights in weight_lists]
    other = next((d for d, s in zip(run_dirs, shapes) if s != shapes[0]), None)
    if other is not None:
        raise FERError(f"{other.name} has another architecture than {run_dirs[0].name}: their weights cannot be "
                       "averaged")
    judge = models[0]

    def accuracy_of(weights):
        judge.set_weights(weights)
        return float((judge.predict(val.x, batch_size=256, verbose=0).argmax(1) == val.labels).mean())

    kind = "uniform" if uniform else "greedy"
    print(f"{kind} soup of {len(run_dirs)} runs, scored on {len(val.x)} validation faces …")
    chosen, alone, path = (uniform_soup if uniform else greedy_soup)(weight_lists, accuracy_of)
    for index, score, kept in path:
        print(f"  {run_dirs[index].name}: alone {alone[index]:.2%}; soup {score:.2%} "
              + ("(kept)" if kept else "(left out: the soup's accuracy fell)"))
    judge.set_weights(average_weights([weight_lists[i] for i in chosen]))
    first = run_dirs[next((i for i in chosen if i < len(configs)), 0)]  # a run folder: its config and splits
    record = {"rule": "uniform soup (Wortsman et al. 2022): every run averaged" if uniform else
              "greedy soup (Wortsman et al. 2022): by validation accuracy, each kept if the average's does not fall",
              "members": [str(run_dirs[i]) for i in chosen],
              "candidates": [str(d) for d in run_dirs], "validation_accuracy_single": {
                  run_dirs[i].name: round(alone[i], 4) for i in range(len(run_dirs))},
              "validation_accuracy_path": [{"run": run_dirs[i].name, "soup": round(score, 4), "kept": kept}
                                           for i, score, kept in path],
              "n_validation": len(val.x), "command": " ".join(sys.argv),
              "created": datetime.now().isoformat(timespec="seconds")}
    _write_soup(out, first, judge, record, [run_dirs[i].name for i in chosen], [cpu_minutes[i] for i in chosen])
    return out, record


def _packaged_best(configs):
    """The shipped FERNet-S's file, once it is checked to fit these runs: the same data, split and cleaning, as
    ``--init packaged`` checks (a one-line error otherwise; whether the runs started from it, the greedy rule
    finds out)."""
    from fer_keras.evaluation.evaluate import variant_from_config

    config = configs[0]
    return packaged_teacher(config.data.fingerprint, config.data.source, variant_from_config(config),
                            flag="--members").best


def _train_cpu_minutes(run):
    """The CPU minutes ``run``'s training cost (its ``trained.json``), or None when it did not record them."""
    return run.read_trained().get("train_cpu_minutes") if run.trained.exists() else None


def _write_soup(out, first, model, record, names, cpu):
    """Write the soup's run folder whole or not at all: built beside, then renamed into place."""
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    try:
        for name in COPIED:
            if (first / name).is_file():
                shutil.copy2(first / name, tmp / name)
        model.save(tmp / BEST)
        trained = {"seconds": 0.0, "method": "soup", "members": names,
                   **({"train_cpu_minutes": round(sum(cpu), 2)} if None not in cpu else {})}
        (tmp / "trained.json").write_text(json.dumps(trained, indent=2))
        (tmp / "soup.json").write_text(json.dumps(record, indent=2))
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@user_errors_exit
def main(argv=None):
    from fer_keras.cli import ArgumentParser, import_keras_quietly

    parser = ArgumentParser(
        prog="python -m fer_keras.soup",
        description="Average the weights of runs fine-tuned from one start into one model (a greedy model soup, "
                    "Wortsman et al. 2022), chosen on the validation split (FER2013's PublicTest); written as a run "
                    "folder that evaluate --run, --init and --teacher take.",
        epilog="example:\n"
               "  python -m fer_keras.soup --members callbacks/fernet_s-A callbacks/fernet_s-B --name soup_ab\n"
               "  python -m fer_keras.evaluate --run callbacks/soup_ab --tta crops")
    parser.add_argument("--members", nargs="+", required=True, metavar="RUN",
                        help="run folders of one architecture, split and start (two or more); 'packaged' is the "
                             "shipped FERNet-S, for runs fine-tuned from it (--init packaged)")
    parser.add_argument("--name", help="the soup's run folder name (default soup-<time>)")
    parser.add_argument("--output-dir", default="callbacks",
                        help="where the soup's run folder goes (default callbacks)")
    parser.add_argument("--uniform", action="store_true",
                        help="average every run (the uniform soup) instead of choosing them greedily")
    parser.add_argument("--data", help="the data, for runs that did not record their validation split")
    args = parser.parse_args(argv)
    import_keras_quietly()
    out, record = make_soup(args.members, args.output_dir, args.name, args.data, args.uniform)
    print(f"soup of {len(record['members'])} of {len(record['candidates'])} runs: {out}")
    return 0
