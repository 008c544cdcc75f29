"""Data-centric cleaning: every defect planted in the synthetic set is found exactly; FER2013's counts."""

import functools
import hashlib
import json

import numpy as np
import pytest

from fer_keras.data import FERDataError, make_fer_data
from fer_keras.data import eda
from fer_keras.data.synthetic import generate
from fer_keras.data import eda_report as eda_cli

from conftest import random_images


@functools.cache
def planted(n_samples, seed):
    return generate(n_samples=n_samples, seed=seed)


@pytest.fixture(scope="module", params=[(4000, 0), (1500, 11)], ids=["n4000-seed0", "n1500-seed11"])
def synthetic(request):
    return planted(*request.param)


def as_groups(groups):
    return {frozenset(int(r) for r in g) for g in groups}


def digest(data):
    h = hashlib.sha256()
    for array in (data.images, data.labels, data.usage.astype(str), data.source_ids.astype(str)):
        h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest(), data.notes


# --------------------------------------------------------------------------- planted defects found exactly


def test_find_duplicates_returns_planted_groups(synthetic):
    groups = eda.find_duplicates(synthetic.data)
    truth = synthetic.truth
    assert as_groups(groups["rows"]) == as_groups(truth.duplicate_groups + truth.conflict_groups)
    assert int((groups["size"] - 1).sum()) == truth.n_extra_duplicates
    assert list(groups.columns) == ["rows", "labels", "emotions", "splits", "size", "conflicting", "straddling"]
    assert all(rows == tuple(sorted(rows)) for rows in groups["rows"])


def test_duplicates_non_match_emotion_returns_planted_conflicts(synthetic):
    conflicts = eda.duplicates_non_match_emotion(synthetic.data)
    assert as_groups(conflicts["rows"]) == as_groups(synthetic.truth.conflict_groups)
    assert int(conflicts["size"].sum()) == synthetic.truth.n_conflict_rows


def test_find_outliers_returns_planted_bright_outliers(synthetic):
    outliers = eda.find_outliers(synthetic.data)
    assert outliers.index.tolist() == sorted(synthetic.truth.bright_outliers.tolist())
    assert (outliers["mean_pixel"] > 230).all()


def test_find_constant_images_returns_planted_constants(synthetic):
    constant = eda.find_constant_images(synthetic.data)
    assert constant.index.tolist() == sorted(synthetic.truth.constant_images.tolist())


def test_leakage_report_returns_planted_straddling_groups(synthetic):
    report = eda.leakage_report(synthetic.data)
    assert as_groups(report.groups["rows"]) == as_groups(synthetic.truth.straddling_groups)
    assert report.n_groups == len(synthetic.truth.straddling_groups)
    assert report.n_rows == sum(len(g) for g in synthetic.truth.straddling_groups)
    assert set(report.pairs) == {"Training/PublicTest", "Training/PrivateTest", "PublicTest/PrivateTest"}
    assert report.n_groups <= sum(p["groups"] for p in report.pairs.values())
    assert f"{report.n_groups:,} duplicate groups" in str(report)


# --------------------------------------------------------------------------- removal


def test_remove_duplicates_keeps_the_first_copy_of_each_image(synthetic):
    data, truth = synthetic.data, synthetic.truth
    cleaned = eda.remove_duplicates(data)
    assert len(cleaned) == len(data) - truth.n_extra_duplicates
    assert eda.find_duplicates(cleaned).empty
    groups = truth.duplicate_groups + truth.conflict_groups
    kept = set(cleaned.source_ids)
    assert all(data.source_ids[min(g)] in kept and not set(data.source_ids[g[1:]]) & kept for g in groups)
    assert cleaned.notes[-1] == (f"remove_duplicates: dropped {truth.n_extra_duplicates:,} extra copies of "
                                 f"{len(groups):,} images (first copy kept; {len(truth.conflict_groups)} of "
                                 "those images had conflicting labels)")


def test_remove_duplicates_with_diff_emotion_drops_every_conflicting_row(synthetic):
    data, truth = synthetic.data, synthetic.truth
    cleaned = eda.remove_duplicates_with_diff_emotion(data)
    assert len(cleaned) == len(data) - truth.n_conflict_rows
    assert eda.duplicates_non_match_emotion(cleaned).empty
    assert as_groups(eda.find_duplicates(cleaned)["rows"]) != set()  # same-label copies stay
    assert not set(cleaned.source_ids) & set(data.source_ids[np.concatenate(truth.conflict_groups)])
    assert cleaned.notes[-1].startswith(
        f"remove_duplicates_with_diff_emotion: dropped all {truth.n_conflict_rows} rows")


def test_drop_outlier_images_drops_bright_and_optionally_constant_images(synthetic):
    data, truth = synthetic.data, synthetic.truth
    bright = eda.drop_outlier_images(data)
    assert len(bright) == len(data) - len(truth.bright_outliers)
    assert bright.notes[-1] == f"drop_outlier_images: dropped {len(truth.bright_outliers)} images with mean pixel > 230"
    both = eda.drop_outlier_images(data, constant=True)
    planted_rows = set(truth.bright_outliers.tolist()) | set(truth.constant_images.tolist())
    assert len(both) == len(data) - len(planted_rows)
    assert eda.find_constant_images(both).empty and eda.find_outliers(both).empty


def test_cleaning_functions_do_not_mutate_their_input(synthetic):
    data = synthetic.data
    before = digest(data)
    for step in (eda.find_duplicates, eda.duplicates_non_match_emotion, eda.remove_duplicates,
                 eda.remove_duplicates_with_diff_emotion, eda.find_outliers, eda.find_constant_images,
                 eda.drop_outlier_images, eda.leakage_report,
                 lambda d: eda.find_outliers(d, method="iqr"), lambda d: eda.drop_outlier_images(d, constant=True)):
        result = step(data)
        assert result is not data
        assert digest(data) == before, step


# --------------------------------------------------------------------------- small handmade cases


def test_iqr_outliers_lie_outside_the_box_plot_fences():
    images = np.stack([np.full((48, 48), v, np.uint8) for v in (100, 110, 120, 130, 140, 5, 250)])
    data = make_fer_data(images, np.zeros(7, int))
    low, high = eda.iqr_fences(eda.mean_pixels(data))
    assert (low, high) == (60.0, 180.0)  # Q1 105, Q3 135, IQR 30
    assert eda.find_outliers(data, method="iqr").index.tolist() == [5, 6]
    assert eda.find_outliers(data, method="iqr", k=10).empty
    assert eda.find_outliers(data, threshold=240).index.tolist() == [6]
    with pytest.raises(FERDataError, match="unknown outlier method 'median'"):
        eda.find_outliers(data, method="median")


def test_clean_data_has_nothing_to_remove():
    data = make_fer_data(random_images(20), np.arange(20) % 7)
    assert eda.find_duplicates(data).empty and eda.find_constant_images(data).empty
    assert len(eda.remove_duplicates(data)) == 20
    assert eda.remove_duplicates(data).notes == ("remove_duplicates: dropped 0 extra copies of 0 images "
                                                 "(first copy kept; 0 of those images had conflicting labels)",)
    assert eda.leakage_report(data).n_groups == 0


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def default_synthetic(monkeypatch):
    """``load("synthetic")`` is ``generate()`` with the defaults; reuse the one generated here."""
    from fer_keras.data import synthetic

    monkeypatch.setattr(synthetic, "load_synthetic", lambda: planted(4000, 0).data)
    return planted(4000, 0)


def test_eda_cli_writes_figures_and_summary_on_synthetic(tmp_path, capsys, default_synthetic):
    out = tmp_path / "eda"
    assert eda_cli.main(["--data", "synthetic", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(eda_cli.OUTPUTS)
    assert all((out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in eda_cli.FIGURES)
    truth = default_synthetic.truth
    summary = json.loads((out / "summary.json").read_text())
    assert summary["duplicates"]["extra_copies"] == truth.n_extra_duplicates
    assert summary["conflicting_duplicates"] == {"groups": len(truth.conflict_groups), "rows": truth.n_conflict_rows}
    assert summary["outliers"]["above_threshold"] == len(truth.bright_outliers)
    assert summary["constant_images"]["images"] == len(truth.constant_images)
    assert summary["leakage"]["groups"] == len(truth.straddling_groups)
    printed = capsys.readouterr().out
    assert all(f"wrote {out / name}" in printed for name in eda_cli.OUTPUTS)
    assert f"{truth.n_extra_duplicates:,} extra copies" in printed
    assert list(tmp_path.iterdir()) == [out]  # no temporary folder left behind


def test_eda_cli_failure_leaves_out_untouched(tmp_path, monkeypatch, default_synthetic):
    from fer_keras.data import eda_plots as plots_eda

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots_eda, "plot_duplicates_per_class", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        eda_cli.main(["--data", "synthetic", "--out", str(tmp_path / "eda")])
    assert list(tmp_path.iterdir()) == []


def test_eda_cli_bad_data_path_exits_2_with_one_line(tmp_path, capsys):
    out = tmp_path / "eda"
    with pytest.raises(SystemExit) as exit_info:
        eda_cli.main(["--data", str(tmp_path / "missing.csv"), "--out", str(out)])
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert len(stderr.strip().splitlines()) == 1
    assert stderr.startswith("error: ") and "missing.csv: no such file" in stderr
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- real FER2013 (DESIGN §2)


@pytest.mark.slow
@pytest.mark.realdata
def test_fer2013_duplicates_match_the_thesis(fer2013):
    groups = eda.find_duplicates(fer2013)
    assert (len(groups), int(groups["size"].sum()), int((groups["size"] - 1).sum())) == (1516, 3369, 1853)
    assert len(eda.remove_duplicates(fer2013)) == 35887 - 1853


@pytest.mark.realdata
def test_fer2013_conflicting_duplicates_match_the_thesis(fer2013):
    conflicts = eda.duplicates_non_match_emotion(fer2013)
    assert (len(conflicts), int(conflicts["size"].sum())) == (57, 160)
    assert len(eda.remove_duplicates_with_diff_emotion(fer2013)) == 35887 - 160


@pytest.mark.realdata
def test_fer2013_outliers_and_constant_images(fer2013):
    assert len(eda.find_outliers(fer2013)) == 28
    constant = eda.find_constant_images(fer2013)
    assert len(constant) == 12 and (constant["mean_pixel"] == 0).all()
    assert len(eda.drop_outlier_images(fer2013)) == 35887 - 28


@pytest.mark.realdata
def test_fer2013_duplicate_groups_straddling_splits(fer2013):
    assert eda.leakage_report(fer2013).n_groups == 557
