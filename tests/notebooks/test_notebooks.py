"""Every notebook in notebooks/ runs top to bottom in the venv's kernel.

Their time is printed, not asserted: a loaded or slower CI machine must not fail a notebook that runs (each takes
10-30 s alone on the 2-core Xeon); a cell that hangs is stopped by the per-cell timeout.

One tiny AlexNet run (256 ShapesWorld images, one epoch) is the finished run folder that
``notebooks/run_folder.ipynb`` and ``notebooks/explain.ipynb`` open through ``PAPERLAB_RUN``.
Notebooks are committed without outputs; this executes them in memory and writes nothing back.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

from tests.conftest import ROOT, run_paperlab

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 600  # a hang guard, not a speed bar


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    proc = run_paperlab(
        "fit", "--config", str(ROOT / "configs/alexnet/demo.yaml"),
        "--data.init_args.train_size", "256", "--data.init_args.val_size", "128",
        "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false",
        "--runs_dir", str(runs), cwd=runs, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = re.findall(r"^results: (.+)$", proc.stdout + proc.stderr, re.MULTILINE)
    assert found, proc.stdout[-2000:]
    return Path(found[-1].strip()).parent


def test_every_notebook_is_collected() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"shapesworld_tour.ipynb", "run_folder.ipynb", "explain.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, finished_run: Path, monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        f"{path.name} is committed with outputs"
    # The kernel inherits this environment: the package from this checkout, the tiny run.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("PAPERLAB_RUN", str(finished_run))
    monkeypatch.setenv("MPLBACKEND", "agg")
    # Kernel "python3" is this interpreter (the venv's ipykernel), even where a user-level python3
    # kernelspec points elsewhere: JUPYTER_PATH comes first in the kernelspec search.
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (paperlab tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError on the first failing cell
    print(f"{path.name}: {time.perf_counter() - start:.1f} s")
