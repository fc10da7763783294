"""Render an sknas HTML report in headless Chromium and save a screenshot (issue 6's acceptance check).

    python benchmarks/report_screenshot.py            # needs chromium (apt-get install chromium)

Segments ``make_customers`` (with its categorical columns) through ``sknas search`` (the command line),
then opens ``report.html`` in headless Chromium and writes ``benchmarks/results/report_screenshot.png``
and ``report_screenshot.md`` (machine, versions, command, date, what the page showed).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def find_browser():
    for name in ("chromium", "chromium-browser", "google-chrome", "headless_shell"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def main():
    import torch

    from sknas.cli import main as cli
    from sknas.datasets import make_customers
    from sknas.provenance import versions

    browser = find_browser()
    if browser is None:
        sys.exit("No Chromium found: apt-get install -y chromium")
    torch.set_num_threads(1)
    work = tempfile.mkdtemp()
    csv = os.path.join(work, "customers.csv")
    make_customers(n_samples=1500, random_state=0, as_frame=True).data.to_csv(csv, index=False)
    out = os.path.join(work, "out")
    argv = ["search", csv, "--method", "darts", "--clusters", "auto", "--out", out, "--max-trials", "6",
            "--max-epochs", "15", "--threads", "1"]
    start = time.perf_counter()
    cli(argv)
    seconds = time.perf_counter() - start
    os.makedirs(RESULTS, exist_ok=True)
    shot = os.path.join(RESULTS, "report_screenshot.png")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,4200", f"file://{out}/report.html"],
                   check=True, capture_output=True, timeout=180)
    shutil.copy(os.path.join(out, "report.html"), os.path.join(RESULTS, "report_example.html"))
    info = {"command": "python benchmarks/report_screenshot.py", "cli": "sknas search customers.csv " + " ".join(a if a != out else "DIR" for a in argv[2:]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), one torch thread",
            "versions": versions(), "date": datetime.date.today().isoformat(), "seed": 0,
            "browser": subprocess.run([browser, "--version"], capture_output=True, text=True).stdout.strip(),
            "search_and_report_seconds": round(seconds, 1), "screenshot_bytes": os.path.getsize(shot)}
    with open(os.path.join(RESULTS, "report_screenshot.json"), "w") as f:
        json.dump(info, f, indent=1)
    with open(os.path.join(RESULTS, "report_screenshot.md"), "w") as f:
        f.write("# HTML report in headless Chromium\n\n"
                f"Command: `{info['command']}` (runs `{info['cli']}` on make_customers, 1,500 rows, seed 0).\n"
                f"Machine: {info['machine']}; {info['browser']}; versions {info['versions']}; {info['date']}.\n\n"
                f"Search and report: {info['search_and_report_seconds']} s. Screenshot: `report_screenshot.png` "
                f"({info['screenshot_bytes']} bytes); the page itself: `report_example.html`.\n")
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
