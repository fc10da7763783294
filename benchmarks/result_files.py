"""What every small benchmark script writes: a header naming the machine, and its table as Markdown + JSON."""

from __future__ import annotations

import datetime
import json
import platform
import sys
from pathlib import Path

import sklearn
import torch

RESULTS = Path(__file__).parent / "results"


def machine_header(command, settings=""):
    """One line: machine, versions, torch threads, date, the ``command`` that made the file and its ``settings``."""
    return (f"Machine: {platform.machine()} CPU, python {sys.version.split()[0]}, torch {torch.__version__}, "
            f"scikit-learn {sklearn.__version__}, torch threads=1; shared with other jobs. "
            f"Date {datetime.date.today()}. Command: `{command}`{' ' + settings if settings else ''}.")


def write_results(stem, lines, rows):
    """Write ``lines`` to results/<stem>.md and ``rows`` to results/<stem>.json; print the table."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(rows, indent=1, default=str))
    print("\n".join(lines))


def print_or_write(stem, lines, payload):
    """Print ``lines`` when ``stem`` is empty; otherwise write them under a header naming this run's command."""
    if not stem:
        print("\n".join(lines))
        return
    command = " ".join(["python benchmarks/" + Path(sys.argv[0]).name, *sys.argv[1:]])
    write_results(stem, [machine_header(command), ""] + lines, payload)
