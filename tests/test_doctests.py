"""Every code example runs: the README's ``>>>`` blocks and every sknas module's docstring examples.

One test per module, so a failure names it. Torch runs on one thread (conftest) and every test starts
from a fixed seed; the examples use tiny budgets (``max_trials=2, max_epochs=2, device="cpu"``).
"""

import doctest
import importlib
import pkgutil
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import sknas

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
#: Modules that cannot be imported without an optional extra (they are skipped, not failed).
MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(sknas.__path__, "sknas.")
                 if not name.endswith("__main__"))


@pytest.fixture(autouse=True)
def _seeded():
    torch.set_num_threads(1)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


def test_readme_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    result = doctest.testfile(str(README), module_relative=False, optionflags=OPTIONS, verbose=False,
                              raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} README examples failed (see above)"


def test_readme_has_no_untested_python_blocks():
    """A ```python block without ``>>>`` would not run: write README examples as doctests."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    assert all(">>>" in block for block in blocks)


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:  # an optional extra (matplotlib, dask, ...) is absent
        pytest.skip(f"{module} needs an optional extra: {exc}")
    result = doctest.testmod(mod, optionflags=OPTIONS, verbose=False, raise_on_error=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {module} failed (see above)"


def _links(path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchor(heading):
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@pytest.mark.parametrize("doc", [README, *sorted((ROOT / "docs").glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    """Every relative link in the README and docs/ points at a file that exists (and a heading, for #anchors)."""
    broken = []
    for link in _links(doc):
        if re.match(r"[a-z]+:", link):
            continue  # http(s), mailto
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        if not path.exists():
            broken.append(link)
        elif anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", path.read_text(), flags=re.S), flags=re.M)
            if anchor not in {_anchor(h) for h in headings}:
                broken.append(link)
    assert not broken, f"broken links in {doc.name}: {broken}"
