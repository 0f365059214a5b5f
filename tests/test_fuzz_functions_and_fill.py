"""Fuzz the surfaces that take what users type: the Excel functions and `fill`.

Inputs come from a seeded random generator, so every run tries the same cases (CI is
deterministic) and a failure names the seed that reproduces it. The checks are written here,
independently of the code under test:

- an Excel function never lets an exception escape and answers with values Excel can show;
- `fill` never prints a traceback, never writes a cell a spreadsheet would run as a formula
  (CSV cells, and any <f> element in the XLSX XML), and never changes its input file.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import io
import math
import random
import re
import unicodedata
import zipfile
from pathlib import Path

from click.testing import CliRunner

from llmcalc_xl.excel import functions as udfs
from llmcalc_xl.cli.main import main

FUNCTIONS = {name: f for name, f in vars(udfs).items() if name.startswith("LLM_") and callable(f)}

IDS = ["llama-3-8b", "gpt-4o", "mixtral-8x7b", "deepseek-v3", "l4", "h100-sxm", "apple-m2-max", "cpu-8gb", "fp8",
       "q4_k_m", "vllm", "llama.cpp", "total", "weights", "open", "api", "price_usd_per_hour", "source", "H100",
       "Llama 3 70B"]
INJECTIONS = ["=1+1", "+1+1", "-2+3", "@SUM(1,1)", " =1+1", "\u00a0=1+1", "\u3000@SUM(1)", "\t=1+1", "\r=1",
              "\n=1", '=HYPERLINK("http://x","click")', "=cmd|' /C calc'!A0", "\ufeff=1+1", "\u200b=1+1",
              "\uff1d1+1", "-", "+", "@", "=", "\x01=1", "'=1"]
CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\ud7ff", "\ufffe", "\u2028", "\u0085"]
NUMBERS = ["1000", "500", "1,5", "1,85", "2.000", "1.234,5", "1,000", "1e3", "-5", "0", "+7", " 12 ", "1_000",
           "nan", "inf", "-inf", "1e400", "9" * 40, "0x10", "١٢", "12abc", "", "  "]


def _text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(IDS)
    if kind < 0.5:
        return rng.choice(INJECTIONS)
    if kind < 0.7:
        return rng.choice(NUMBERS)
    parts = [rng.choice(IDS + INJECTIONS + CONTROL + NUMBERS + ['"', "'", ",", ";", "\t", "\n", "\r\n", " "])
             for _ in range(rng.randint(1, 4))]
    return "".join(parts)


# --- the Excel functions ---------------------------------------------------------------------------

def _cell(rng: random.Random):
    kind = rng.random()
    if kind < 0.2:
        return None
    if kind < 0.45:
        return rng.choice([0.0, 1.0, 8.0, 500.0, 1000.0, 4096.0, -1.0, 0.5, 1e300, -0.0, math.nan, math.inf,
                           -math.inf, 1e-300, 2.0 ** 53, 65.0])
    if kind < 0.5:
        return rng.choice([True, False])
    if kind < 0.55:
        return rng.choice([7, 0, -3, 10 ** 30])
    return _text(rng)


def _argument(rng: random.Random):
    """A value as xlwings might hand it over: a cell, a 1-D or 2-D range, ragged or empty lists."""
    kind = rng.random()
    if kind < 0.55:
        return [[_cell(rng)]]  # ndim=2, one cell
    if kind < 0.65:
        return _cell(rng)
    if kind < 0.8:
        rows, cols = rng.randint(1, 3), rng.randint(1, 3)
        return [[_cell(rng) for _ in range(cols)] for _ in range(rows)]
    if kind < 0.88:
        return [[_cell(rng) for _ in range(rng.randint(0, 3))] for _ in range(rng.randint(1, 3))]  # ragged
    if kind < 0.93:
        return [_cell(rng) for _ in range(rng.randint(0, 3))]  # 1-D
    return rng.choice([[], [[]], [[], []], ()])


def _showable(value) -> bool:
    """What an Excel cell can hold: empty, a bool, a finite number or text (no NaN, no inf)."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return False


def _check_answer(value) -> str | None:
    if isinstance(value, list):
        if not value or not all(isinstance(row, list) for row in value):
            return f"not a list of rows: {value!r:.200}"
        if len({len(row) for row in value}) != 1:
            return f"ragged answer: {value!r:.200}"
        bad = [v for row in value for v in row if not _showable(v)]
        return f"cells Excel cannot show: {bad[:3]!r}" if bad else None
    return None if _showable(value) else f"a value Excel cannot show: {value!r:.200}"


def fuzz_udfs(cases: int, seed: int = 0) -> tuple[int, list[str]]:
    """(calls tried, failures) over ``cases`` random calls of every Excel function."""
    failures = []
    tried = 0
    names = sorted(FUNCTIONS)
    for i in range(cases):
        rng = random.Random(f"{seed}-{i}")
        name = names[i % len(names)]
        f = FUNCTIONS[name]
        params = list(inspect.signature(f).parameters)
        n_args = rng.randint(sum(1 for p in inspect.signature(f).parameters.values()
                                 if p.default is inspect.Parameter.empty), len(params))
        args = [_argument(rng) for _ in range(n_args)]
        tried += 1
        try:
            problem = _check_answer(f(*args))
        except Exception as exc:  # noqa: BLE001 - the point: nothing may escape
            problem = f"raised {type(exc).__name__}: {exc}"
        if problem:
            failures.append(f"{name}{tuple(args)!r:.300} (case {seed}-{i}): {problem}")
    return tried, failures


def test_no_exception_escapes_an_excel_function():
    tried, failures = fuzz_udfs(1500)
    assert tried == 1500
    assert not failures, f"{len(failures)} of {tried} calls failed, e.g.\n" + "\n".join(failures[:10])


# --- fill ------------------------------------------------------------------------------------------

COLUMNS = ["model", "Model", "hardware", "HW", "gpus", "GPU count", "Input Tokens", "input-tokens", "output_tokens",
           "output", "batch", "precision", "engine", "scenario", "context_tokens", "price_per_hour", "latency_s",
           "requests_per_month", "owner", "=1+1", "@SUM(1,1)", "-2+3", " =x", "\u00a0@x", "note\x01", "é",
           "status", "cost_per_request_usd", ""]
LEADING = re.compile(r"^[=+\-@\uff1d\uff0b\uff0d\uff20]")
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$", re.ASCII)


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp")


def runs_as_formula(text: str) -> bool:
    """Independent check: would a spreadsheet opening this CSV cell run it? (OWASP CSV injection,
    and LibreOffice, which reads a formula after leading blanks.) A plain number is a number."""
    stripped = text
    while stripped and _invisible(stripped[0]):
        stripped = stripped[1:]
    while stripped and _invisible(stripped[-1]):
        stripped = stripped[:-1]
    if PLAIN_NUMBER.match(stripped):
        return False
    return text[:1] in ("\t", "\r", "\n") or bool(LEADING.match(stripped))


def _random_csv(rng: random.Random) -> bytes:
    sep = rng.choice([",", ";", "\t"])
    names = rng.sample(COLUMNS, rng.randint(1, 7))
    if "model" not in [n.lower() for n in names] and rng.random() < 0.9:
        names.insert(rng.randrange(len(names) + 1), "model")
    rows = [names]
    for _ in range(rng.randint(0, 6)):
        row = []
        for name in names:
            if name.lower() == "model" and rng.random() < 0.7:
                row.append(rng.choice(["llama-3-8b", "gpt-4o", "mixtral-8x7b", "gemma-2-9b"]))
            elif name in ("hardware", "HW") and rng.random() < 0.7:
                row.append(rng.choice(["l4", "h100-sxm", "rtx-4090", ""]))
            else:
                row.append(_text(rng))
        if rng.random() < 0.05:
            row = row[:-1] if len(row) > 1 and rng.random() < 0.5 else row + ["extra"]
        rows.append(row)
    buf = io.StringIO()
    quoting = rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
    csv.writer(buf, delimiter=sep, quoting=quoting, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
    text = buf.getvalue()
    if rng.random() < 0.3:
        text = "\ufeff" + text
    if rng.random() < 0.1:
        text += rng.choice(["\n\n", "\r\n\r\n", '"unclosed', "\x00"])
    return text.encode("utf-8", "surrogatepass")


def _csv_cells(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def _xlsx_problems(path: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                xml = z.read(name).decode("utf-8")
                if "<f>" in xml or "<f " in xml:
                    problems.append(f"{name} holds a formula")
    return problems


def fuzz_fill(cases: int, tmp: Path, seed: int = 0) -> tuple[int, list[str]]:
    """(fill runs tried, failures): each random CSV is filled to .csv and to .xlsx."""
    runner = CliRunner()
    failures = []
    tried = 0
    for i in range(cases):
        rng = random.Random(f"{seed}-{i}")
        src = tmp / f"in{i}.csv"
        data = _random_csv(rng)
        src.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        for suffix in (".csv", ".xlsx"):
            out = tmp / f"out{i}{suffix}"
            tried += 1
            r = runner.invoke(main, ["fill", str(src), "--out", str(out)])
            where = f"case {seed}-{i} to {suffix} ({data[:120]!r})"
            if r.exception is not None and not isinstance(r.exception, SystemExit):
                failures.append(f"{where}: raised {type(r.exception).__name__}: {r.exception}")
            elif "Traceback" in r.output or r.exit_code not in (0, 2):
                failures.append(f"{where}: exit {r.exit_code}: {r.output[-300:]}")
            elif r.exit_code == 0 and suffix == ".csv":
                bad = [c for c in _csv_cells(out) if runs_as_formula(c)]
                if bad:
                    failures.append(f"{where}: cells that run as formulas: {bad[:3]!r}")
            elif r.exit_code == 0:
                failures += [f"{where}: {p}" for p in _xlsx_problems(out)]
            if hashlib.sha256(src.read_bytes()).hexdigest() != digest:
                failures.append(f"{where}: the input file changed")
    return tried, failures


def test_fill_survives_random_csvs(tmp_path):
    tried, failures = fuzz_fill(200, tmp_path)
    assert tried == 400
    assert not failures, f"{len(failures)} of {tried} runs failed, e.g.\n" + "\n".join(failures[:10])


def test_the_injection_check_can_fail():
    assert runs_as_formula("=1+1") and runs_as_formula("\u00a0@SUM(1)") and runs_as_formula("\tx")
    assert runs_as_formula("-2+3") and not runs_as_formula("-5") and not runs_as_formula("'=1+1")
    assert not runs_as_formula("1e3") and not runs_as_formula("llama-3-8b") and not runs_as_formula("\t1")
