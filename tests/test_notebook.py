"""The example notebook is stored clean and runs from top to bottom on tiny settings."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from .waiting import EVENT_WAIT_S

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "scripting.ipynb"
#: What the test reads back from the kernel once the notebook has run.
REPORT = (
    "import json\n"
    "print(json.dumps({'noisy_psnr': quality.noisy.psnr, 'mmse_psnr': quality.prediction.psnr,"
    " 'psnr_gain': psnr_gain}))"
)


def python_kernel(folder: Path) -> KernelManager:
    """A kernel manager that starts this interpreter's ipykernel, whatever else is installed."""
    spec = folder / "kernels" / "this-python"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "this python", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    specs = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    return KernelManager(kernel_name="this-python", kernel_spec_manager=specs)


def printed(cells, stream: str = "stdout") -> str:
    """Everything the code `cells` printed on `stream` (``"stdout"`` or ``"stderr"``)."""
    return "".join(
        output.get("text", "")
        for cell in cells
        for output in cell.outputs
        if output.get("name") == stream
    )


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, "the notebook holds no code"
    dirty = [
        number
        for number, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"cells {dirty} hold outputs: clear them before committing"


@pytest.mark.slow
def test_the_notebook_runs_and_denoising_beats_the_noisy_frame(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVNOISING_NOTEBOOK_QUICK", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT))
    client = nbclient.NotebookClient(
        notebook,
        km=python_kernel(tmp_path),
        timeout=EVENT_WAIT_S,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, if one fails

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a cell did not run"
    warnings = printed(code, "stderr")
    assert "napari_divnoising" not in warnings, warnings
    scores = json.loads(printed(code[-1:]))
    assert scores["mmse_psnr"] > scores["noisy_psnr"] + 1.0, scores
    assert scores["psnr_gain"] == pytest.approx(scores["mmse_psnr"] - scores["noisy_psnr"])
    assert (tmp_path / "sample.divnoising").is_file(), "the model was not saved where it ran"
