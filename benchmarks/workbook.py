"""How big and how fast the quote workbook is.

    python benchmarks/workbook.py [--rows 10 3000 10000] [--no-refresh] [--no-recalc]

Builds quotes of N scenarios (every formula with its value), prints build time and file size,
the time to `refresh` it, then has LibreOffice recalculate every formula (if installed; told to
ignore the values the file caches) and prints that time and how many results it checked
against the core. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from llmcalc_xl import estimate_many  # noqa: E402
from llmcalc_xl.workbook import formulas as F  # noqa: E402
from llmcalc_xl.workbook.build import DEFAULT_SCENARIOS, FIRST_ROW, _Layout, build_workbook, save_atomically  # noqa: E402


def scenarios(n: int) -> list[dict]:
    base = list(DEFAULT_SCENARIOS)
    return [dict(base[i % len(base)], scenario=f"{base[i % len(base)]['scenario']} #{i + 1}",
                 input_tokens=base[i % len(base)]["input_tokens"] + (i // len(base)) % 500) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[10, 3000, 10_000])
    parser.add_argument("--no-refresh", action="store_true")
    parser.add_argument("--no-recalc", action="store_true")
    args = parser.parse_args()
    soffice = shutil.which("soffice")
    tmp = Path(tempfile.mkdtemp())
    settings = tmp / "profile" / "user" / "registrymodifications.xcu"  # recalculate on load, always
    settings.parent.mkdir(parents=True)
    settings.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<oor:items xmlns:oor="http://openoffice.org/2001/'
                        'registry"><item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name='
                        '"OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item></oor:items>\n')
    for n in args.rows:
        rows = scenarios(n)
        t = time.perf_counter()
        path = save_atomically(build_workbook(rows), tmp / f"quote-{n}.xlsx")
        built = time.perf_counter() - t
        print(f"{n:>6,} scenarios: built in {built:.2f} s, {path.stat().st_size / 1e6:.2f} MB")
        if not args.no_refresh:
            from llmcalc_xl.workbook.refresh import refresh

            copy = tmp / f"refreshed-{n}.xlsx"
            shutil.copy(path, copy)
            t = time.perf_counter()
            refresh(copy)
            print(f"{'':>6}  refreshed in {time.perf_counter() - t:.2f} s")
        if args.no_recalc or not soffice:
            continue
        out = tmp / f"calc-{n}"
        t = time.perf_counter()
        subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp}/profile",
                        "--convert-to", "xlsx", "--outdir", str(out), str(path)], check=True, capture_output=True)
        recalc = time.perf_counter() - t
        from openpyxl import load_workbook
        ws = load_workbook(out / path.name, data_only=True, read_only=True)["Scenarios"]
        layout = _Layout()
        from openpyxl.utils import column_index_from_string as ci
        cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
        core = estimate_many(cols.pop("model"), cols.pop("hardware"), **cols)
        checked = mismatches = 0
        index = {k: ci(layout.output_col[k]) - 1 for k in F.OUTPUT_KEYS}
        for i, values in enumerate(ws.iter_rows(min_row=FIRST_ROW, max_row=FIRST_ROW + n - 1, values_only=True)):
            for key, c in index.items():
                want, got = core[key][i], values[c]
                ok = got == "n/a" if isinstance(want, float) and math.isnan(want) else (
                    isinstance(got, (int, float)) and math.isclose(float(got), float(want), rel_tol=1e-9,
                                                                   abs_tol=1e-12))
                checked += 1
                mismatches += not ok
        print(f"{'':>6}  LibreOffice recalculated it in {recalc:.1f} s; {checked:,} results checked against the "
              f"core, {mismatches} mismatches")


if __name__ == "__main__":
    main()
