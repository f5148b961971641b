"""Every notebook in notebooks/ runs top to bottom (small settings) and shows at least one figure.

Notebooks read ``MRI_MONAI_NOTEBOOK_SMALL`` (small settings) and ``MRI_MONAI_NOTEBOOK_WORKDIR`` (where they write) in
their first (parameter) cell into ``SMALL`` and ``WORKDIR``; the test checks that they did.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_figures(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MRI_MONAI_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("MRI_MONAI_NOTEBOOK_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    nb = nbformat.read(path, as_version=4)
    # a last cell reports the parameters the notebook's first cell chose from the environment
    nb.cells.append(nbformat.v4.new_code_cell("import json; print(json.dumps([SMALL, str(WORKDIR)]))"))
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    figures = [
        o
        for cell in nb.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert figures, f"{path.name} shows no figure"
    small, workdir = json.loads(nb.cells[-1].outputs[0]["text"])
    assert small is True, f"{path.name} ignored MRI_MONAI_NOTEBOOK_SMALL"
    assert Path(workdir).is_relative_to(tmp_path), f"{path.name} wrote to {workdir}, not MRI_MONAI_NOTEBOOK_WORKDIR"
