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


#: What each part of the package may import (besides itself and the standard library). The shared
#: base (errors, notes, units, files, cell_text, cells, scenario_csv) imports nothing of ours but
#: errors and notes.
ALLOWED = {
    "base": {"base"},
    "catalogs": {"base"},
    "core": {"base", "catalogs"},
    "workbook": {"base", "catalogs", "core"},
    "batch": {"base", "catalogs", "core"},
    "excel": {"base", "catalogs", "core"},
    "cli": {"base", "catalogs", "core", "workbook", "batch", "excel"},  # the command line runs every surface
    "top": {"base", "catalogs", "core", "cli"},  # __init__ (the library API) and __main__
}
PARTS = ("catalogs", "core", "workbook", "batch", "excel", "cli")


def _part(module: str) -> str:
    """The part of the package a dotted module name (below llmcalc_xl) belongs to."""
    head = module.split(".")[0]
    if head in PARTS:
        return head
    return "top" if head in ("__init__", "__main__", "") else "base"


def _imports_of(path: Path, package: Path) -> set[str]:
    """Modules of the package that a file imports (dotted, below llmcalc_xl), anywhere in it."""
    import ast

    here = list(path.relative_to(package).with_suffix("").parts)
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("llmcalc_xl"):
                target = node.module.split(".")[1:]
            else:
                continue
            if node.module is None or not target:  # "from . import x": x is a module of that package
                out.update(".".join(target + [a.name]) for a in node.names)
            else:
                out.add(".".join(target))
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".", 1)[1] for a in node.names if a.name.startswith("llmcalc_xl."))
    return out


def _wrong_imports(package: Path) -> list[str]:
    wrong = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package).with_suffix("").parts)
        part = _part(module)
        for target in _imports_of(path, package):
            if _part(target) != part and _part(target) not in ALLOWED[part]:
                wrong.append(f"{module} ({part}) imports {target} ({_part(target)})")
    return wrong


def test_imports_flow_one_way():
    """Surfaces (workbook, batch, excel) import the core and catalogs, never each other; the core
    never imports a surface; the catalogs import only the shared base."""
    wrong = _wrong_imports(ROOT / "llmcalc_xl")
    assert not wrong, "\n".join(wrong)


def test_the_direction_check_sees_wrong_imports(tmp_path):
    """The check flags a surface importing another (the workbook once imported the Excel
    functions) and the core importing a surface, in any import form."""
    package = tmp_path / "llmcalc_xl"
    for folder in ("workbook", "core", "excel"):
        (package / folder).mkdir(parents=True)
    (package / "workbook" / "build.py").write_text(
        "from ..core.estimate import estimate_many\ndef f():\n    from ..excel import functions\n")
    (package / "core" / "plan.py").write_text("import llmcalc_xl.workbook.build\nfrom .estimate import x\n")
    (package / "excel" / "functions.py").write_text("from .. import cells\nfrom ..core import estimate\n")
    assert _wrong_imports(package) == ["core.plan (core) imports workbook.build (workbook)",
                                       "workbook.build (workbook) imports excel (excel)"]


def test_ci_runs_the_readmes_test_command_then_lint_types_and_accuracy():
    import re

    blocks = re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)
    main_job, tests, checks = blocks[0], blocks[1], blocks[2]
    assert "llmcalc-xl build" in main_job and tests.endswith("python -m pytest -q")
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    at = [i for i, line in enumerate(steps) if line.startswith(tests + " ")]
    assert at, "the README's test command, exactly, is a step of .ci/run"
    wanted = [line.split("#")[0].strip() for line in checks.splitlines()]
    assert wanted == ["ruff check llmcalc_xl tests benchmarks", "mypy llmcalc_xl", "python benchmarks/accuracy.py"]
    assert steps[at[0] + 1:] == wanted
    # a failing step fails the run: set -e for the checks, an explicit exit for the && list
    assert "set -euo pipefail" in steps and steps[at[0]].endswith(" || exit 1")


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
