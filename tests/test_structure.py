"""The shape of the project: import direction, start-up cost, a wheel that works anywhere."""

import json
import os
import subprocess
import sys
import site
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_no_adapter_libraries():
    code = ("import sys, llmcalc_xl; llmcalc_xl.estimate('llama-3-8b', 'l4'); "
            "print([m for m in ('click', 'openpyxl', 'xlwings', 'pandas') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_wheel_installs_and_runs_from_another_folder(tmp_path):
    """A non-editable install carries the catalogs: build the wheel, install it in a fresh
    virtual environment and run the command from a folder far from the sources."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("llmcalc_xl-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    # after the install (pip must not see the test environment's copy as already installed):
    # dependencies come from the test environment, appended after the new venv's own
    # site-packages (a .pth file), so the freshly installed llmcalc_xl is the one imported
    new_site = subprocess.run([str(bindir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    Path(new_site, "test_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = subprocess.run([str(bindir / "llmcalc-xl"), "estimate", "--model", "llama-3-8b", "--hardware", "l4",
                          "--json"], capture_output=True, text=True, cwd=elsewhere,
                         env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["model"] == "llama-3-8b" and d["fits"] is True
    built = subprocess.run([str(bindir / "llmcalc-xl"), "build", "--out", "q.xlsx"], capture_output=True, text=True,
                           cwd=elsewhere, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert built.returncode == 0, built.stderr  # the template and catalogs travel in the wheel
    assert (elsewhere / "q.xlsx").stat().st_size > 50_000
    located = subprocess.run([str(bindir / "python"), "-c", "import llmcalc_xl; print(llmcalc_xl.__file__)"],
                             capture_output=True, text=True, cwd=elsewhere, check=True).stdout
    assert str(env_dir) in located  # the installed copy, not the source tree
