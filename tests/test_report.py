"""The HTML report: self-contained, with the plots and tables the user needs."""

import html
import re
import shutil

import pytest

from sknas import AutoSegmenter
from sknas.datasets import make_customers
from sknas.reporting.report import build_report, compare_with_classical, write_report

FAST_AUTO = {"max_trials": 2, "max_epochs": 2, "device": "cpu", "random_state": 0, "cluster_range": (2, 4),
             "search_params": {"batch_size": 64, "search_space": {"widths": (8,), "max_depth": 1}}}


@pytest.fixture(scope="module")
def fitted():
    frame = make_customers(n_samples=200, random_state=0, as_frame=True).data
    return AutoSegmenter(**FAST_AUTO).fit(frame), frame


def test_report_sections_and_self_contained(fitted, tmp_path):
    seg, frame = fitted
    page = build_report(seg, frame)
    for section in ("Segments", "Search", "Against classical recipes", "Efficiency", "Provenance"):
        assert f"<h2>{section}" in page
    alts = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert set(alts) >= {"segment sizes", "segment profiles", "search convergence", "segment map", "evidence per k",
                         "segment drivers", "Pareto front of quality against cost", "chosen architecture"}
    assert not re.search(r'(src|href)="(http|//)', page)  # nothing fetched from elsewhere
    assert seg.provenance_["data"]["sha256"] in page
    path = write_report(seg, frame, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8") == page


def test_report_pictures_descriptions_and_columns(fitted):
    seg, frame = fitted
    page = build_report(seg, frame)
    assert "<h2>Number of segments" in page and "<h2>Columns" in page  # n_clusters="auto" shows its evidence
    assert "principal components of the learned" in page  # the map's caption says what the axes are
    for description in seg.segment_profiles_["description"]:
        assert html.escape(description) in page
    for column, role in seg.column_roles_.items():
        assert f'<td class="key">{column}</td><td class=\'text\'>{role}</td>' in page


def test_report_leaves_the_matplotlib_backend_alone(fitted):
    import matplotlib

    seg, frame = fitted
    before = matplotlib.get_backend()
    build_report(seg, frame)
    assert matplotlib.get_backend() == before
    matplotlib.use("svg")  # a user's non-default backend stays too
    try:
        build_report(seg, frame)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_comparison_table(fitted):
    seg, frame = fitted
    rows = compare_with_classical(seg, frame)
    assert [r["recipe"].split(" (")[0] for r in rows] == ["sknas AutoSegmenter", "KMeans on the raw columns",
                                                          "PCA + KMeans", "Gaussian mixture"]
    assert rows[0]["agreement"] == pytest.approx(1.0)


def test_report_without_a_search(tmp_path):
    frame = make_customers(n_samples=120, random_state=0, as_frame=True).data
    seg = AutoSegmenter(feature_map="none", n_clusters=3, max_epochs=2, device="cpu", random_state=0).fit(frame)
    page = build_report(seg, frame)
    assert "<h2>Provenance" in page and 'alt="segment map"' in page
    assert "<h2>Number of segments" not in page  # a given k has no evidence to show


def test_report_says_when_no_k_met_the_rules_or_the_search_ran_deskewed():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 2)), columns=["a", "b"])
    frame.loc[0] = [1e3, 1e3]  # one far row: a segment of its own at every k
    with pytest.warns(UserWarning, match="met AutoSegmenter's rules"):
        seg = AutoSegmenter(feature_map="none", max_epochs=2, device="cpu", random_state=0,
                            cluster_range=(2, 4)).fit(frame)
    page = build_report(seg, frame)
    assert "No k met the rules" in page and "smallest segment 0.8% of rows" in page
    seg.deskewed_ = True  # as a kept rerun leaves it (tests/test_autosegment.py fits one)
    page = build_report(seg, frame)
    assert "power-transformed" in page and "No k met the rules" in page  # a kept rerun need not be admissible
    seg.k_evidence_[seg.n_clusters_] = {**seg.k_evidence_[seg.n_clusters_], "admissible": True, "reason": ""}
    page = build_report(seg, frame)
    assert "power-transformed" in page and "No k met the rules" not in page


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.slow
def test_report_renders_in_headless_chromium(fitted, tmp_path):
    """Opens the report in headless Chromium and screenshots it (skips where no browser is installed)."""
    browser = _browser()
    if browser is None:
        pytest.skip("no Chromium found (apt-get install chromium)")
    import subprocess

    seg, frame = fitted
    page = write_report(seg, frame, tmp_path / "report.html")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1200,3000", f"file://{page}"], check=True, capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000  # a page of plots, not a blank or broken one


def test_report_says_when_the_final_check_replaced_or_kept_a_restating_map():
    from types import SimpleNamespace

    from sknas.reporting.report import _final_check_note

    replaced = SimpleNamespace(architecture_="identity", final_check_={
        "column_nmi": 0.6, "closest_column": "student", "restates_column": False, "replaced": "linear"})
    note = _final_check_note(replaced)
    assert "<code>linear</code>" in note and "<code>identity</code>" in note and "NMI 0.60" in note
    kept = SimpleNamespace(architecture_="linear", final_check_={
        "column_nmi": 0.83, "closest_column": "student", "restates_column": True, "replaced": None})
    assert "restate student (NMI 0.83)" in _final_check_note(kept)
    fine = SimpleNamespace(architecture_="linear", final_check_={
        "column_nmi": 0.2, "closest_column": "student", "restates_column": False, "replaced": None})
    assert _final_check_note(fine) == "" and _final_check_note(SimpleNamespace()) == ""


def test_report_carries_the_final_check_note(fitted, monkeypatch):
    segmenter, frame = fitted
    monkeypatch.setattr(segmenter.search_, "final_check_", {
        "column_nmi": 0.9, "closest_column": "plan", "restates_column": True, "replaced": None}, raising=False)
    assert "restate plan (NMI 0.90)" in build_report(segmenter, frame)
