"""tests/nbval_cpu.py: which cells' printed digits nbval compares on this CPU."""

from types import SimpleNamespace

import mdiff
from tests import nbval_cpu


def _item(tags, executed_on=None):
    meta = {"mdiff": {"executed_on": executed_on}} if executed_on else {}
    parent = SimpleNamespace(nb=SimpleNamespace(metadata=meta))
    cell = {"metadata": {"tags": tags}}
    return SimpleNamespace(cell=cell, parent=parent, options={"check": True}, nodeid="nb::Cell 1")


def test_only_tagged_cells_stored_on_another_vendor_skip_the_digit_comparison(monkeypatch):
    monkeypatch.setattr(mdiff.data, "cpu", lambda: ("GenuineIntel", "a model"))
    monkeypatch.setattr(nbval_cpu, "_relaxed", [])
    items = [
        _item(["cpu-dependent"]),  # stored on the legacy vendor: relaxed here
        _item(["cpu-dependent"], "GenuineIntel"),  # stored on this vendor: compared
        _item([]),  # untagged: compared
        SimpleNamespace(nodeid="tests/x.py::test"),  # not a notebook cell
    ]
    nbval_cpu.pytest_collection_modifyitems(None, None, items)
    assert [i.options["check"] for i in items[:3]] == [False, True, True]
    assert len(nbval_cpu._relaxed) == 1 and mdiff.data.LEGACY_VENDOR in nbval_cpu._relaxed[0]


def test_the_chapters_tag_only_cells_that_train_or_time_kernels():
    import json
    from pathlib import Path

    tagged = {}
    for path in sorted(Path("chapters").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        tagged[path.stem] = [
            k for k, c in enumerate(code) if "cpu-dependent" in c["metadata"].get("tags", [])
        ]
    assert sum(map(len, tagged.values())) <= 16, tagged  # a handful, not a blanket
    assert tagged["01-forward-reverse"] == []
