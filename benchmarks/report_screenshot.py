"""Render an sknas HTML report in headless Chromium and save a screenshot (issues 6 and 21's acceptance check).

    python benchmarks/report_screenshot.py            # needs chromium (apt-get install chromium); ~1 min

Fits an :class:`~sknas.AutoSegmenter` with its defaults on ``make_customers`` (2,000 rows, its categorical
columns; about a minute on 2 shared cores), writes the report with :func:`sknas.reporting.report.write_report`, opens
it in headless Chromium and writes ``benchmarks/results/report_customers.png`` (the top of the page: segment
descriptions, map, drivers, the evidence per k, the column handling), ``report_customers_full.png`` (the
whole page), the page itself (``report_customers.html``) and ``report_customers.md``/``.json`` (machine,
versions, settings, timings, the segment descriptions).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def find_browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        if shutil.which(name):
            return shutil.which(name)
    return None


#: The fit the screenshot shows: AutoSegmenter's defaults (their search budget included), on the CPU.
SETTINGS = {"device": "cpu", "random_state": 0}
N_ROWS = 2000


def screenshot(browser, page, png, height):
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={png}", f"--window-size=1200,{height}", f"file://{page}"],
                   check=True, capture_output=True, timeout=180)


def main():
    import torch

    from sknas import AutoSegmenter
    from sknas.datasets import make_customers
    from sknas.io.provenance import versions
    from sknas.reporting.report import write_report

    browser = find_browser()
    if browser is None:
        sys.exit("No Chromium found: apt-get install -y chromium")
    torch.set_num_threads(1)
    frame = make_customers(n_samples=N_ROWS, random_state=0, as_frame=True).data
    start = time.perf_counter()
    segmenter = AutoSegmenter(**SETTINGS).fit(frame)
    fit_seconds = time.perf_counter() - start
    os.makedirs(RESULTS, exist_ok=True)
    page = os.path.join(RESULTS, "report_customers.html")
    start = time.perf_counter()
    write_report(segmenter, frame, page, title="sknas segmentation of make_customers (2,000 rows)")
    report_seconds = time.perf_counter() - start
    shot, full = (os.path.join(RESULTS, name) for name in ("report_customers.png", "report_customers_full.png"))
    screenshot(browser, page, shot, 3000)
    screenshot(browser, page, full, 7000)
    profile = segmenter.segment_profiles_
    info = {"command": "python benchmarks/report_screenshot.py",
            "fit": f"AutoSegmenter(**{SETTINGS}).fit(make_customers(n_samples={N_ROWS}, random_state=0, "
                   "as_frame=True).data)",
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), one torch thread",
            "versions": versions(), "date": datetime.date.today().isoformat(),
            "browser": subprocess.run([browser, "--version"], capture_output=True, text=True).stdout.strip(),
            "fit_seconds": round(fit_seconds, 1), "report_seconds": round(report_seconds, 1),
            "n_clusters": int(segmenter.n_clusters_), "architecture": str(segmenter.search_.architecture_),
            "segments": [{"segment": int(s), "share": round(float(r["share"]), 3), "description": r["description"]}
                         for s, r in profile.iterrows()]}
    with open(os.path.join(RESULTS, "report_customers.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(RESULTS, "report_customers.md"), "w") as f:
        f.write("# HTML report in headless Chromium\n\n"
                f"Command: `{info['command']}`: `{info['fit']}`, then `sknas.reporting.report.write_report`.\n"
                f"Machine: {info['machine']}; {info['browser']}; versions {info['versions']}; {info['date']}.\n\n"
                f"Fit: {info['fit_seconds']} s; report: {info['report_seconds']} s. {info['n_clusters']} segments, "
                f"feature map `{info['architecture']}`.\n\n"
                "Screenshots: `report_customers.png` (1200 x 3000, the top of the page), "
                "`report_customers_full.png` (1200 x 7000); the page itself: `report_customers.html`.\n\n"
                "| segment | share | what sets it apart |\n|---|---|---|\n"
                + "".join(f"| {s['segment']} | {s['share']:.1%} | {s['description']} |\n" for s in info["segments"]))
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
