"""``python -m fer_keras.eda --data PATH|synthetic --out results/eda``: the EDA report of a dataset.

Finds the defects the thesis cleans (exact duplicates, duplicates with conflicting labels, bright
outliers, constant images, duplicates straddling splits), and writes figures, ``summary.json`` and
``summary.md`` to ``--out``. Everything is written to a temporary folder first and moved into place
at the end, so a failure leaves ``--out`` as it was.
"""

import json
import shutil
import tempfile
import time
from pathlib import Path

from fer_keras import EMOTIONS
from fer_keras.cli import ArgumentParser, user_errors_exit
from fer_keras.constraints import check_options
from fer_keras.data import SYNTHETIC, load
from fer_keras.data import eda
from fer_keras.errors import FERError

FIGURES = ("class_distribution.png", "mean_pixel_boxplot.png", "duplicates_per_class.png",
           "conflicting_duplicates.png", "outliers.png")
OUTPUTS = FIGURES + ("summary.json", "summary.md")


def summarize(data, threshold=eda.OUTLIER_THRESHOLD, k=1.5):
    """The report's numbers as a JSON-ready dict, and the tables the figures need."""
    groups = eda.find_duplicates(data)
    conflicts = groups[groups["conflicting"]]
    leakage = eda.leakage_report(data)
    means = eda.mean_pixels(data)
    outliers = eda.find_outliers(data, threshold=threshold)
    iqr = eda.find_outliers(data, method="iqr", k=k)
    constant = eda.find_constant_images(data)
    thesis_filtered = eda.drop_outlier_images(eda.remove_duplicates_with_diff_emotion(data), threshold=threshold)
    counts = data.counts()
    summary = {
        "source": data.source,
        "images": len(data),
        "counts": {split: {c: int(n) for c, n in row.items()} for split, row in counts.iterrows()},
        "duplicates": {"groups": len(groups), "rows": int(groups["size"].sum()),
                       "extra_copies": int((groups["size"] - 1).sum())},
        "conflicting_duplicates": {"groups": len(conflicts), "rows": int(conflicts["size"].sum())},
        "leakage": {"groups": leakage.n_groups, "rows": leakage.n_rows, "pairs": leakage.pairs},
        "outliers": {"threshold": threshold, "above_threshold": len(outliers),
                     "iqr": {"k": k, "fences": list(eda.iqr_fences(means, k)), "outside": len(iqr)}},
        "constant_images": {"images": len(constant),
                            "values": {str(int(v)): int(n) for v, n in constant["mean_pixel"].value_counts().items()}},
        "after_cleaning": {
            "remove_duplicates": len(eda.remove_duplicates(data)),
            "remove_duplicates_with_diff_emotion": len(data) - int(conflicts["size"].sum()),
            "drop_outlier_images": len(data) - len(outliers),
            "conflicts_and_outliers_removed (thesis 'filtered')": len(thesis_filtered),
        },
    }
    tables = {"groups": groups, "conflicts": conflicts, "means": means, "outliers": outliers, "constant": constant}
    return summary, tables


def write_report(data, out, threshold=eda.OUTLIER_THRESHOLD, k=1.5, log=print):
    """Write the figures and summaries for ``data`` into the folder ``out``; return the paths."""
    from fer_keras.data import eda_plots as plots_eda

    out = _check_out(out)
    log("[2/3] finding duplicates, conflicting labels, leakage and outliers ...")
    summary, t = summarize(data, threshold, k)
    log("[3/3] drawing figures ...")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        plots_eda.plot_class_distribution(data, tmp / FIGURES[0])
        plots_eda.plot_mean_pixel_boxplot(data, t["means"], threshold, summary["outliers"]["iqr"]["fences"],
                                          tmp / FIGURES[1], k=k)
        plots_eda.plot_duplicates_per_class(data, t["groups"], tmp / FIGURES[2])
        plots_eda.plot_conflicting_gallery(data, t["conflicts"], tmp / FIGURES[3])
        plots_eda.plot_outlier_gallery(data, t["outliers"], t["constant"], threshold, tmp / FIGURES[4])
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (tmp / "summary.md").write_text(_markdown(summary))
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary, [out / name for name in OUTPUTS]


def _check_out(out):
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FERError(f"{out}: exists and is not a folder; pass a folder for --out")
    return out


def _publish(tmp, out):
    """Move the finished files into ``out`` (the whole folder at once when ``out`` is new)."""
    if not out.exists():
        tmp.rename(out)
        return
    for name in OUTPUTS:
        (tmp / name).replace(out / name)


def _markdown(s):
    d, c, leak, o = s["duplicates"], s["conflicting_duplicates"], s["leakage"], s["outliers"]
    header = "| split | " + " | ".join((*EMOTIONS, "total")) + " |"
    lines = [f"# EDA of {s['source'] or 'a FER dataset'}", "", f"{s['images']:,} images (48×48 grey).", "", header,
             "|" + " --- |" * (len(EMOTIONS) + 2)]
    lines += [f"| {split or 'no split'} | " + " | ".join(f"{n:,}" for n in row.values()) + " |"
              for split, row in s["counts"].items()]
    pairs = ", ".join(f"{p} {v['groups']:,} groups" for p, v in leak["pairs"].items())
    left = "; ".join(f"{k} {n:,}" for k, n in s["after_cleaning"].items())
    lines += ["", "| defect | count |", "| --- | --- |",
              f"| exact duplicates: extra copies beyond the first | {d['extra_copies']:,} "
              f"({d['rows']:,} rows in {d['groups']:,} groups) |",
              f"| duplicates whose labels disagree | {c['groups']:,} groups, {c['rows']:,} rows |",
              f"| duplicate groups straddling splits | {leak['groups']:,} ({leak['rows']:,} rows) |",
              f"| mean pixel > {o['threshold']:g} | {o['above_threshold']:,} |",
              f"| mean pixel outside {o['iqr']['k']:g}·IQR fences "
              f"({o['iqr']['fences'][0]:.1f}, {o['iqr']['fences'][1]:.1f}) | {o['iqr']['outside']:,} |",
              f"| constant images (value: count) | {s['constant_images']['images']:,} "
              f"({', '.join(f'{v}: {n}' for v, n in s['constant_images']['values'].items()) or '—'}) |",
              "", f"Leakage per split pair: {pairs or 'none'}.", "", f"Images left after cleaning: {left}.",
              "", "Figures: " + ", ".join(FIGURES) + "."]
    return "\n".join(lines) + "\n"


@user_errors_exit
def main(argv=None):
    parser = ArgumentParser(
        prog="python -m fer_keras.eda",
        description="EDA report of a FER dataset: class balance, exact duplicates, conflicting labels, "
        "outliers, constant images and split leakage, as PNG figures plus summary.json and summary.md.",
        epilog="example: python -m fer_keras.eda --data ../shared/data/fer2013.csv.gz --out results/eda",
    )
    parser.add_argument("--data", default=SYNTHETIC,
                        help="CSV file, image folder, or 'synthetic' (default: %(default)s)")
    parser.add_argument("--out", default="results/eda", help="folder to write the report to (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=eda.OUTLIER_THRESHOLD,
                        help="mean pixel above which an image is an outlier (default: %(default)s, the thesis')")
    parser.add_argument("--iqr-k", type=float, default=1.5, help="box-plot fence factor k (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="ignore and do not write the HDF5 cache")
    args = parser.parse_args(argv)
    check_options(args, ("threshold", "iqr_k"))  # finite and in range, before any work
    _check_out(args.out)
    start = time.perf_counter()
    print(f"[1/3] loading {args.data} ...", flush=True)
    data = load(args.data, cache=not args.no_cache)
    print(f"      {len(data):,} images in {time.perf_counter() - start:.1f}s", flush=True)
    summary, paths = write_report(data, args.out, args.threshold, args.iqr_k,
                                  log=lambda line: print(line, flush=True))
    for path in paths:
        print(f"wrote {path}")
    d, c, o = summary["duplicates"], summary["conflicting_duplicates"], summary["outliers"]
    print(f"duplicates: {d['extra_copies']:,} extra copies ({d['rows']:,} rows in {d['groups']:,} groups); "
          f"conflicting labels: {c['groups']:,} groups, {c['rows']:,} rows; "
          f"straddling splits: {summary['leakage']['groups']:,} groups")
    print(f"outliers: {o['above_threshold']:,} with mean pixel > {o['threshold']:g}, "
          f"{summary['constant_images']['images']:,} constant images; done in {time.perf_counter() - start:.1f}s")
    return 0
