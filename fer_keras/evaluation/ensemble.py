"""Evaluate an ensemble of trained runs: ``python -m fer_keras.ensemble --members RUN ... --method mean``.
With ``--regions whole,left_eye,right_eye,nose,mouth,rest``: the region vote of Bakiasi & Muça
(2024) against the members' whole-face vote (``fer_keras.evaluation.region_vote``).

mean: (weighted) probability average (Białek et al. 2023 §4.5); vote: majority vote (Bakiasi 2024;
ties → highest summed probability, then lowest class index); ovr: seven one-vs-rest binary runs,
one per emotion, arg-max of their sigmoid scores (Białek §3.5, §4.4). The members must have been
tested on the same split (same data, cleaning, split and protocol, read from their config.json).
Writes ``results/<name>/`` like ``fer_keras.evaluation.evaluate``, so the ensemble appears in the results table.

``--snapshots RUN``: the snapshots one run saved at the end of each learning-rate cycle (Huang et al.
2017, recipe ``snapshot``), averaged; how many of the last ones to keep is chosen on the validation
split (FER2013's PublicTest), then the test split reports each snapshot, the ensemble and its cost.
"""

import argparse
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import numpy as np

from fer_keras import EMOTIONS
from fer_keras.cli import ArgumentParser, import_keras_quietly, user_errors_exit
from fer_keras.constraints import check
from fer_keras.errors import FERError
from fer_keras.evaluation.evaluate import (TIMING_CALLS, add_evaluation_options, evaluation_options_of,
                                           load_keras_model, model_scores, predicted_labels, print_summary, read_config,
                                           run_test_split, run_val_split, time_inference, variant_from_config,
                                           write_results)
from fer_keras.evaluation.members import check_same_split, label_metrics, shared_test_split
from fer_keras.data.regions import VOTE_REGIONS
from fer_keras.models.combine import (ENSEMBLE_METHODS, average_probabilities, check_ensemble_method, combine,
                                      ensemble_model)
from fer_keras.runs.folder import Run, check_output_dir

REFERENCES = {"mean": "Białek et al. 2023 §4.5", "vote": "Bakiasi 2024", "ovr": "Białek et al. 2023 §3.5, §4.4",
              "snapshot": "Huang et al. 2017, Snapshot Ensembles"}


def check_members(run_dirs, configs, method):
    """The members' variants, in the order the method needs (one-vs-rest: by emotion); a FERError
    names the first pair of members tested on different splits, or a member of the wrong kind."""
    if len(run_dirs) < 2:
        raise FERError(f"an ensemble needs at least two members, got {len(run_dirs)}")
    check_same_split(run_dirs, configs)
    variants = [variant_from_config(c) for c in configs]
    if method == "ovr":
        emotions = [v.binary_emotion for v in variants]
        if None in emotions or sorted(emotions, key=str) != sorted(EMOTIONS):
            raise FERError(f"--method ovr needs seven binary runs, one per emotion ({', '.join(EMOTIONS)}); got "
                           f"{', '.join(str(e or v.name + ' (seven-class)') for e, v in zip(emotions, variants))}")
        return sorted(range(len(variants)), key=lambda i: EMOTIONS.index(variants[i].binary_emotion)), variants
    binary = [Path(d).name for d, v in zip(run_dirs, variants) if v.binary]
    if binary:
        raise FERError(f"--method {method} combines seven-class runs; {', '.join(binary)} is binary (use --method ovr "
                       "with one binary run per emotion)")
    return list(range(len(variants))), variants


def select_members(val_scores, val_labels):
    """Greedy forward selection of probability-averaged members (Caruana et al. 2004, without
    replacement): start from the member most accurate on the validation split, add the one that
    raises the mean's validation accuracy most, stop when none raises it. Returns the chosen indices
    and the validation accuracy after each addition."""
    def accuracy(indices):
        mean = average_probabilities([val_scores[i] for i in indices])
        return float((predicted_labels(mean) == val_labels).mean())

    chosen, path, remaining = [], [], list(range(len(val_scores)))
    while remaining:
        scores = {i: accuracy(chosen + [i]) for i in remaining}
        best = max(remaining, key=lambda i: (scores[i], -i))  # the earlier member on a tie
        score = scores[best]
        if path and score <= path[-1]:
            break
        chosen.append(best)
        remaining.remove(best)
        path.append(score)
    return chosen, path


def selected_on_validation(run_dirs, configs, variants, models, data, tta, test):
    """:func:`select_members` over the runs' models on their validation split (FER2013's PublicTest
    under the usage split), scored with ``tta`` as on the test split; returns (chosen indices, the
    selection record). Refused for LEAKY runs (a staged run trained on that split) and for runs whose
    validation splits differ (a seeded hold-out of Training: one run's validation images are
    another's training images)."""
    if test.leaky:
        raise FERError(f"--select chooses on the validation split, which these {test.protocol} (LEAKY) runs trained "
                       "on or drew after resampling; select among honest runs")
    val = shared_validation_split(run_dirs, configs, data)
    scores = [plain if tta == "none" else with_tta for plain, with_tta in (model_scores(m, val.x, tta) for m in models)]
    chosen, path = select_members(scores, val.labels)
    single = {d.name: float((predicted_labels(p) == val.labels).mean()) for d, p in zip(run_dirs, scores)}
    return chosen, {"rule": "greedy forward selection of the mean on the validation split (Caruana et al. 2004)",
                    "candidates": [d.name for d in run_dirs], "chosen": [run_dirs[i].name for i in chosen],
                    "validation_accuracy_path": path, "validation_accuracy_single": single,
                    "n_validation": len(val.x), "tta": tta}


def shared_validation_split(run_dirs, configs, data=None,
                            need="--select needs candidates validated on the same images"):
    """The validation split every run of ``run_dirs`` was validated on; a FERError (ending in ``need``) when
    their splits differ (a seeded hold-out of Training: one run's validation images are another's training
    images)."""
    vals = validation_splits(run_dirs, configs, data)
    if any(not np.array_equal(v.x, vals[0].x) for v in vals[1:]):
        seeds = sorted({c.seed for c in configs})
        raise FERError(f"the candidates' validation splits differ (seeds {', '.join(map(str, seeds))} hold out other "
                       f"training images): {need}")
    return vals[0]


def validation_splits(run_dirs, configs, data=None):
    """Each run's validation split (``evaluate.run_val_split``): the recorded one, or for runs made before
    runs recorded it, made again from the data once per seed."""
    found, rebuilt = [], {}
    for run_dir, config in zip(run_dirs, configs):
        recorded = Run(run_dir).val_split.is_file()
        if not recorded and config.seed not in rebuilt:
            rebuilt[config.seed] = run_val_split(run_dir, data)
        found.append(run_val_split(run_dir) if recorded else rebuilt[config.seed])
    return found


def evaluate_ensemble(members, method="mean", weights=None, data=None, results_dir="results", name=None,
                      n_calls=TIMING_CALLS, tta="none", select=False):
    """Combine the best checkpoints of the runs ``members`` by ``method`` on their shared test split;
    write ``results_dir/<name>/`` (default name ``ensemble_<method>-<time>``); return the metrics.
    ``tta`` ("flip", "crops") also combines each member's test-time-augmented probabilities.
    ``select``: ``members`` are candidates, of which :func:`select_members` keeps those that raise the
    mean's accuracy on the validation split (scored with ``tta``); only they are scored on the test split."""
    check_ensemble_method(method)
    if weights is not None:
        weights = [check("ensemble_weight", w, "--weights") for w in weights]
        if not sum(weights) > 0:
            raise FERError(f"--weights must not all be 0, got {' '.join(f'{w:g}' for w in weights)}")
    if weights is not None and (method == "ovr" or len(weights) != len(members)):
        raise FERError("--weights apply to 'mean' and 'vote' only" if method == "ovr" else
                       f"got {len(weights)} weights for {len(members)} members; give one weight per member")
    if select and (method != "mean" or weights is not None):
        raise FERError("--select chooses members of a probability average: --method mean, no --weights")
    run_dirs = [Path(m) for m in members]
    configs = [read_config(d) for d in run_dirs]
    order, variants = check_members(run_dirs, configs, method)
    run_dirs, configs, variants = ([seq[i] for i in order] for seq in (run_dirs, configs, variants))
    if weights is not None:
        weights = [weights[i] for i in order]
    test = shared_test_split(run_dirs, data)
    models = [load_keras_model(Run(d).best) for d in run_dirs]
    selection = None
    if select:
        chosen, selection = selected_on_validation(run_dirs, configs, variants, models, data, tta, test)
        if len(chosen) == 1:
            print(f"--select kept one member, {run_dirs[chosen[0]].name}: no other raised the validation accuracy")
        run_dirs, configs, variants, models = ([seq[i] for i in chosen]
                                               for seq in (run_dirs, configs, variants, models))
    scored = [model_scores(model, test.x, tta) for model in models]
    member_accuracy = {}
    for run_dir, variant, (output, _) in zip(run_dirs, variants, scored):
        truth = (test.emotions == EMOTIONS.index(variant.binary_emotion)) if variant.binary else test.emotions
        member_accuracy[run_dir.name] = float((predicted_labels(output) == truth).mean())
    name = name or f"ensemble_{method}-{datetime.now():%Y%m%d-%H%M%S}"
    metrics = combined_metrics(test, method, scored, weights, tta)
    metrics.update(variant=f"ensemble_{method}", method=method, weights=weights, members=[d.name for d in run_dirs],
                   member_accuracy=member_accuracy, data=test.source, protocol=test.protocol, leaky=test.leaky,
                   reference=REFERENCES[method], evaluated=datetime.now().isoformat(timespec="seconds"),
                   **({"member_selection": selection} if selection else {}))
    if n_calls:
        print(f"timing inference of the {len(models)} members together: {n_calls} predict calls …")
        metrics["inference"] = time_inference(ensemble_model(models), test.x, n_calls=n_calls)
    config = {"ensemble": {"method": method, "weights": weights, "members": [str(d) for d in run_dirs],
                           **({"candidates": [str(Path(m)) for m in members]} if selection else {})},
              "data": asdict(configs[0].data), "command": " ".join(sys.argv),
              "members": {d.name: c.to_dict() for d, c in zip(run_dirs, configs)}}
    out_dir = Path(results_dir) / name
    return write_results(out_dir, metrics, f"{name} ({len(models)} members)", config=config), out_dir


def combined_metrics(test, method, scored, weights=None, tta="none"):
    """The test metrics of the members' (plain, TTA) probabilities ``scored`` combined by ``method``."""
    predicted = combine(method, [plain for plain, _ in scored], weights)
    tta_predicted = None if tta == "none" else combine(method, [with_tta for _, with_tta in scored], weights)
    return label_metrics(test, predicted, tta_predicted, tta)


def choose_last_k(val_probabilities, val_labels):
    """{k: validation accuracy of the mean of the last k snapshots} and the k to keep: the most
    accurate, the fewest members on a tie (the cheaper ensemble)."""
    accuracy = {k: float((predicted_labels(average_probabilities(val_probabilities[-k:])) == val_labels).mean())
                for k in range(1, len(val_probabilities) + 1)}
    return accuracy, max(accuracy, key=lambda k: (accuracy[k], -k))


def evaluate_snapshots(run_dir, last=None, data=None, results_dir="results", name=None, n_calls=TIMING_CALLS,
                       tta="none"):
    """Average the last ``last`` snapshots of the run in ``run_dir`` (default: the number chosen on
    the validation split, FER2013's PublicTest, by :func:`choose_last_k`) on its test split; report
    every snapshot's accuracy, the last one's as the single model, and the inference cost ratio
    (members run per image; with timing, also the measured time ratio). Writes ``results_dir/<name>/``
    (default ``<run>-snapshots``)."""
    run = Run(Path(run_dir))
    paths = run.snapshot_files()
    if len(paths) < 2:
        raise FERError(f"{run.path} has {len(paths)} snapshot(s) in {run.snapshots}; a snapshot ensemble needs at "
                       "least two: train with --recipe snapshot (one snapshot per learning-rate cycle)")
    if last is not None and not 1 <= last <= len(paths):
        raise FERError(f"--last {last}: {run.name} has {len(paths)} snapshots; give 1 to {len(paths)}")
    test, run_config = run_test_split(run.path, data)
    if test.variant.binary:
        raise FERError(f"{run.name} is a binary run; snapshot ensembles combine seven-class snapshots")
    models = [load_keras_model(p) for p in paths]
    val = run_val_split(run.path, data)
    val_accuracy, chosen = choose_last_k([m.predict(val.x, batch_size=256, verbose=0) for m in models], val.labels)
    k = last or chosen
    scored = [model_scores(model, test.x, tta) for model in models]
    member_accuracy = {p.stem: float((predicted_labels(plain) == test.emotions).mean())
                       for p, (plain, _) in zip(paths, scored)}
    metrics = combined_metrics(test, "mean", scored[-k:], tta=tta)
    single = member_accuracy[paths[-1].stem]
    metrics.update(variant="snapshot_ensemble", method="mean", members=[p.stem for p in paths[-k:]],
                   member_accuracy=member_accuracy, single_snapshot_accuracy=single,
                   ensemble_gain=metrics["test_accuracy"] - single, inference_cost_ratio=k,
                   all_snapshots_accuracy=combined_metrics(test, "mean", scored)["test_accuracy"],
                   selection={"rule": "mean of the last k snapshots, k by validation accuracy (fewest on a tie)",
                              "k": k, "chosen_on_validation": last is None, "n_validation": len(val.x),
                              "validation_accuracy_by_k": val_accuracy},
                   run_dir=str(run.path), data=test.source, protocol=test.protocol, leaky=test.leaky,
                   reference=REFERENCES["snapshot"], evaluated=datetime.now().isoformat(timespec="seconds"))
    if n_calls:
        print(f"timing inference: the last snapshot alone, then the {k} together ({n_calls} predict calls each) …")
        metrics["inference_single"] = time_inference(models[-1], test.x, n_calls=n_calls)
        metrics["inference"] = time_inference(ensemble_model(models[-k:]), test.x, n_calls=n_calls)
        metrics["inference_time_ratio"] = metrics["inference"]["mean_s"] / metrics["inference_single"]["mean_s"]
    name = name or f"{run.name}-snapshots"
    out_dir = Path(results_dir) / name
    results_config = {"ensemble": {"method": "mean", "snapshots": [str(p) for p in paths[-k:]],
                                   "run": str(run.path)}, "data": asdict(run_config.data),
                      "command": " ".join(sys.argv)}
    return write_results(out_dir, metrics, f"{name} ({k} of {len(paths)} snapshots)", config=results_config), out_dir


def _region_vote_main(args, timing_calls, tta):
    from fer_keras.evaluation.region_vote import compare_region_vote, parse_regions

    regions = parse_regions(args.regions)
    if args.method not in (None, "vote") or args.weights or tta != "none":
        raise FERError("--regions evaluates an unweighted majority vote: no --method other than vote, no --weights, "
                       "no --tta")
    import_keras_quietly()
    written = compare_region_vote(args.members, regions, args.data, args.results_dir, args.name, timing_calls)
    for vote, (metrics, _) in written.items():
        print(f"{vote} ({', '.join(metrics['regions'])}): validation accuracy {metrics['validation_accuracy']:.4f}, "
              f"test accuracy {metrics['test_accuracy']:.4f}")
    print(f"chosen on the validation split: {metrics['comparison']['selected']}")
    for metrics, out_dir in written.values():
        print_summary(metrics, out_dir)
    return 0


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.ensemble",
        description="Evaluate an ensemble of trained runs on their shared test split (same metrics, figures and "
        "inference timing as python -m fer_keras.evaluate); writes results/<name>/.",
        epilog="examples:\n"
        "  python -m fer_keras.ensemble --method mean \\\n"
        "      --members callbacks/vgg16_original-* callbacks/resnet50_original-*\n"
        "  python -m fer_keras.ensemble --members RUN_A RUN_B RUN_C --method vote --weights 2 1 1\n"
        "  python -m fer_keras.ensemble --members RUN_A RUN_B RUN_C --select --tta crops  # chosen on PublicTest\n"
        "  python -m fer_keras.ensemble --members callbacks/binary_*_five_layer-* --method ovr\n"
        "  python -m fer_keras.ensemble --snapshots callbacks/fernet_t-20261121-2359   # a --recipe snapshot run\n"
        "  python -m fer_keras.ensemble --members RUN_A RUN_B --regions whole,left_eye,right_eye,nose,mouth,rest",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    members = parser.add_mutually_exclusive_group(required=True)
    members.add_argument("--members", nargs="+", help="training run folders (callbacks/<variant>-<time>/)")
    members.add_argument("--snapshots", metavar="RUN",
                         help="one run trained with --recipe snapshot: average its cycle snapshots (mean), keeping "
                         "the last k, k chosen on the validation split (PublicTest) unless --last is given")
    parser.add_argument("--last", type=int, metavar="K", help="with --snapshots: keep the last K snapshots")
    parser.add_argument("--method", choices=ENSEMBLE_METHODS,
                        help="mean: probability average; vote: majority vote; ovr: seven binary runs "
                        "(default: mean; with --regions: vote)")
    parser.add_argument("--regions", metavar="LIST",
                        help=f"comma-separated face regions, some of {', '.join(VOTE_REGIONS)}: the region vote "
                        "(every member on every region, majority vote; one member is enough) against the members' "
                        "whole-face vote, chosen between on the validation split (PublicTest), both reported on the "
                        "test split; writes results/<name>/ and results/<name>-whole_face/")
    parser.add_argument("--weights", nargs="+", type=float, help="one weight per member (mean and vote)")
    parser.add_argument("--select", action="store_true",
                        help="with --members and --method mean: the members are candidates; keep those that raise "
                        "the mean's accuracy on the validation split (FER2013's PublicTest; greedy forward selection, "
                        "scored with --tta), and test only them")
    parser.add_argument("--data", help="CSV, image folder or 'synthetic'; overrides the members' recorded source")
    parser.add_argument("--name", help="results folder name (default: ensemble_<method>-<time>, or "
                        "region_vote-<time>)")
    parser.add_argument("--results-dir", default="results", help="results go to DIR/<name>/ (default: %(default)s)")
    add_evaluation_options(parser)
    args = parser.parse_args(argv)
    timing_calls, tta = evaluation_options_of(args)
    check_output_dir(args.results_dir, "--results-dir")
    if args.snapshots and (args.method not in (None, "mean") or args.weights or args.regions):
        raise FERError("--snapshots averages probabilities: --method mean, no --weights, no --regions")
    if args.last is not None and not args.snapshots:
        raise FERError("--last goes with --snapshots")
    if args.select and (args.snapshots or args.regions):
        raise FERError("--select chooses among --members for a probability average; not with --snapshots or --regions")
    if args.regions is not None:
        return _region_vote_main(args, timing_calls, tta)
    import_keras_quietly()
    if args.snapshots:
        metrics, out_dir = evaluate_snapshots(args.snapshots, args.last, args.data, args.results_dir, args.name,
                                              timing_calls, tta)
        selection = metrics["selection"]
        for k, accuracy in selection["validation_accuracy_by_k"].items():
            print(f"  validation: mean of the last {k} snapshot(s): accuracy {accuracy:.4f}")
        for member, accuracy in metrics["member_accuracy"].items():
            print(f"  test: {member}: accuracy {accuracy:.4f}")
        print(f"  test: last {selection['k']} snapshots averaged: accuracy {metrics['test_accuracy']:.4f} vs the last "
              f"snapshot alone {metrics['single_snapshot_accuracy']:.4f}; inference cost {selection['k']}×"
              + (f" (measured {metrics['inference_time_ratio']:.2f}× the time)" if "inference_time_ratio" in metrics
                 else ""))
        print_summary(metrics, out_dir)
        return 0
    metrics, out_dir = evaluate_ensemble(args.members, args.method or "mean", args.weights, args.data,
                                         args.results_dir, args.name, timing_calls, tta, args.select)
    if "member_selection" in metrics:
        selection = metrics["member_selection"]
        for member, accuracy in zip(selection["chosen"], selection["validation_accuracy_path"]):
            print(f"  validation: + {member}: mean's accuracy {accuracy:.4f}")
    for member, accuracy in metrics["member_accuracy"].items():
        print(f"  member {member}: accuracy {accuracy:.4f}")
    print_summary(metrics, out_dir)
    return 0
