"""Fuzzing the surfaces a user hands files and text to: the command line, catalog files and workbooks.

Whatever goes in, the CLI must answer with exit code 0, 1 (only ``fill --strict`` with failed
rows) or 2 (one ``Error: ...`` line, or click's usage message), never a traceback; JSON output
must be valid JSON without NaN or Infinity; and no input file may change. Hypothesis runs a
fixed number of derandomized examples per surface, so the run is reproducible and short.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from llmcalc_xl.cli.main import main
from llmcalc_xl.core.options import OPTIONS
from llmcalc_xl.workbook.build import FIRST_ROW, _Layout, build_workbook, save_atomically

DATA = Path(__file__).parent / "data"
#: Derandomized: the same examples on every run (CI is reproducible); sized for well under a minute.
FUZZ = dict(derandomize=True, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the base files every example starts from ------------------------------------------------


def make_base(folder: Path) -> Path:
    """A folder of valid inputs: a quote, a calculated quote, a template, CSVs, a catalog."""
    folder.mkdir(parents=True, exist_ok=True)
    save_atomically(build_workbook([dict(scenario="a", model="llama-3-8b", hardware="h100-sxm",
                                         requests_per_month=1000)]), folder / "q.xlsx")
    wb = load_workbook(folder / "q.xlsx")  # as a spreadsheet saves it: results as values
    ws, layout = wb["Scenarios"], _Layout()
    for col in layout.output_col.values():
        ws[f"{col}{FIRST_ROW}"] = 1.5
    wb.save(folder / "calc.xlsx")
    shutil.copy(Path(__file__).parents[1] / "templates" / "quote.xlsx", folder / "t.xlsx")
    (folder / "s.csv").write_text("scenario,model,hardware,gpus\nfirst,llama-3-8b,h100-sxm,1\n"
                                  "bad,llama-9-9b,h100-sxm,x\n", encoding="utf-8")
    (folder / "bad.csv").write_text("model\n" + "\x1b[31m\n" + "nope\n", encoding="utf-8")
    shutil.copy(DATA / "tiny.toml", folder / "tiny.toml")
    (folder / "dir").mkdir()
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_base(tmp_path_factory.mktemp("fuzz-base"))


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:  # a name too long for the system, ...
        return None


# --- what every answer must satisfy -------------------------------------------------------------

def _no_constant(name: str):
    raise ValueError(f"JSON holds {name}")


UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def problems(args: list[str], result, before: dict[str, str], after: dict[str, str],
             changes_allowed: set[str] = frozenset()) -> list[str]:
    """What is wrong with one CLI answer (empty when it keeps every promise)."""
    found = []
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback
        tb = traceback.extract_tb(result.exception.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "llmcalc_xl" in f.filename),
                     f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?")
        found.append(f"traceback {type(result.exception).__name__} at {where}: {str(result.exception)[:120]}")
    code, err = result.exit_code, result.stderr
    strict = args[:1] == ["fill"] and "--strict" in args
    if code not in ({0, 1, 2} if strict else {0, 2}):
        found.append(f"exit code {code}")
    if "Traceback" in err:
        found.append("a traceback on stderr")
    if code == 2:
        lines = err.rstrip("\n").split("\n")
        if not err.startswith("Usage:") and (len(lines) != 1 or not lines[0].startswith("Error: ")):
            found.append(f"error is not one 'Error:' line: {err[:200]!r}")
        elif len(lines[-1]) > 600:
            found.append(f"error line of {len(lines[-1])} characters")
        elif UNSAFE.search(err.rstrip("\n")):
            found.append("control character in the error line")
    if code == 0 and "--json" in args:
        try:
            json.loads(result.stdout, parse_constant=_no_constant)
        except ValueError as exc:
            found.append(f"invalid JSON: {exc}")
    for name, digest in before.items():
        if name not in changes_allowed and after.get(name) != digest:
            found.append(f"input {name} changed" if name in after else f"input {name} removed")
    return found


def _named(folder: Path, arg: str | None) -> str | None:
    """The name in ``folder`` a path argument points at (None when it points elsewhere)."""
    if not arg:
        return None
    try:
        path = Path(arg) if Path(arg).is_absolute() else folder / arg
        path = path.resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    return path.name if path.parent == folder.resolve() else None


def _option(args: list[str], name: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == name]


def allowed_changes(folder: Path, args: list[str], before: dict[str, str]) -> tuple[set[str], list[str]]:
    """The files this command may change, and what is wrong with its backups."""
    command, found, named = args[0], [], lambda a: _named(folder, a)
    inputs = {named(a) for a in _option(args, "--catalog") + _option(args, "--template") + _option(args, "--scenarios")}
    outputs: set[str | None] = set()
    in_place: set[str | None] = set()
    if command == "build" and "--force" in args:
        outputs.add(named((_option(args, "--out") or ["quote.xlsx"])[-1]))
    elif command == "build":
        new = named((_option(args, "--out") or ["quote.xlsx"])[-1])
        outputs.add(new if new not in before else None)
    if command == "fill":
        src = args[1]
        inputs.add(named(src))
        out = (_option(args, "--out") or [str(Path(src).with_suffix(".results.csv"))
                                          if src and not src.endswith(("/", ".")) else ""])[-1]
        outputs.add(named(out))
        in_place |= {named(a) for a in _option(args, "--workbook")}
    if command == "export":
        inputs.add(named(args[1]))
        outputs |= {named(a) for a in _option(args, "--out")}
    if command == "refresh":
        in_place.add(named(args[1]))
    in_place.discard(None)
    for target in in_place:
        backup = f"{Path(target).stem}.backup{Path(target).suffix}"
        outputs |= {target, backup}
        if target in before and _digest(folder / target) != before[target]:
            if _digest(folder / backup) != before[target]:
                found.append(f"{target} was rewritten without its previous bytes in {backup}")
    return {o for o in outputs if o and o not in inputs}, found


def check(base: Path, args: list[str], prepare=None) -> list[str]:
    """Run ``args`` in a fresh copy of the base folder; the problems found."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for p in base.iterdir():
            if p.is_file():
                shutil.copy2(p, folder / p.name)
            else:
                (folder / p.name).mkdir()
        if prepare:
            prepare(folder)
        before = digests(folder)
        args = [a.replace("{dir}", str(folder)) for a in args]
        cwd = os.getcwd()
        os.chdir(folder)  # relative paths land in the example's folder
        try:
            result = CliRunner().invoke(main, args, catch_exceptions=True)
        finally:
            os.chdir(cwd)
        allowed, found = allowed_changes(folder, args, before)
        return found + problems(args, result, before, digests(folder), allowed)


# --- the command line -------------------------------------------------------------------------

NASTY = ["", " ", "0", "-1", "1e309", "-1e309", "inf", "-inf", "nan", "NaN", "1e-320", "9" * 400, "1,000", "0x10",
         "\x1b[31mred\x1b[0m", "a\nb", "a\rb", "tab\tx", "\u202eevil", "é", "名字", "x" * 10_000, "=1+1", "'", '"',
         "1_000", "1e3", "3.5"]
text_value = st.one_of(st.sampled_from(NASTY), st.text(st.characters(exclude_characters="\x00"), max_size=30),
                       st.integers(-10**30, 10**30).map(str), st.floats().map(repr))
MODELS = ["llama-3-8b", "gpt-4o", "mixtral-8x7b", "toy-dense", "toy-api"]
HARDWARE = ["h100-sxm", "l4", "m2-ultra", "toy-gpu"]


def weighted(*choices):
    """One of the strategies, each as often as its weight says (Hypothesis's one_of draws them evenly)."""
    return st.sampled_from([s for s, weight in choices for _ in range(weight)]).flatmap(lambda s: s)


def value_for(option: str):
    """Mostly values that work, so that the commands get past their first check; else anything."""
    valid = st.sampled_from({"--model": MODELS, "--hardware": HARDWARE}.get(option, ["1", "8", "1000", "0.5"]))
    return weighted((valid, 3), (text_value, 1))


FILES = ["{dir}/q.xlsx", "{dir}/calc.xlsx", "{dir}/t.xlsx", "{dir}/s.csv", "{dir}/bad.csv", "{dir}/tiny.toml",
         "{dir}/dir", "{dir}/missing.xlsx", "{dir}/missing/x.xlsx", "{dir}/new.xlsx", "{dir}/new.csv",
         "{dir}/./q.xlsx", "{dir}/dir/../s.csv", "{dir}/q.backup.xlsx", "/dev/null"]
file_value = weighted((st.sampled_from(FILES), 3), (text_value, 1))
csv_value = weighted((st.sampled_from(["{dir}/s.csv", "{dir}/bad.csv"]), 3), (file_value, 1))
xlsx_value = weighted((st.sampled_from(["{dir}/q.xlsx", "{dir}/calc.xlsx"]), 3), (file_value, 1))
catalog_opt = st.lists(st.tuples(st.just("--catalog"), weighted((st.just("{dir}/tiny.toml"), 3), (file_value, 1))),
                       max_size=1)

ESTIMATE_OPTIONS = [o.flag for o in OPTIONS]  # --model first, then every other option of the table
PLAN_OPTIONS = ["--requests-per-day", "--requests-per-s", "--input-tokens", "--output-tokens", "--api-model",
                "--max-ttft-s", "--max-tpot-s", "--max-latency-s", "--precision", "--engine", "--utilization",
                "--peak-to-average", "--redundancy", "--top"]


def _options(names, max_size=3):
    return st.lists(st.sampled_from(names).flatmap(lambda o: st.tuples(st.just(o), value_for(o))), max_size=max_size)


def _flat(pairs):
    return [x for pair in pairs for x in pair]


@st.composite
def cli_args(draw):
    command = draw(st.sampled_from(["estimate", "plan", "build", "fill", "export", "refresh", "catalog"]))
    flags = lambda *names: [f for f in names if draw(st.booleans())]  # noqa: E731
    if command == "estimate":
        args = ["--model", draw(value_for("--model"))] + _flat(draw(_options(ESTIMATE_OPTIONS[1:])))
        return ["estimate", *args, *_flat(draw(catalog_opt)), *flags("--json")]
    if command == "plan":
        hardware = draw(st.lists(st.one_of(st.sampled_from(HARDWARE), text_value), min_size=1, max_size=2))
        args = ["--model", draw(value_for("--model"))] + _flat(("--hardware", h) for h in hardware)
        args += [draw(st.sampled_from(PLAN_OPTIONS[:2])), draw(value_for("--load"))]
        args += _flat(draw(_options(PLAN_OPTIONS, max_size=3)))
        return ["plan", *args, *_flat(draw(catalog_opt)), *flags("--json")]
    if command == "build":
        args = ["--out", draw(file_value)]
        if draw(st.booleans()):
            args += ["--scenarios", draw(csv_value)]
        else:
            args += _flat(("--models", draw(value_for("--model"))) for _ in range(draw(st.integers(0, 2))))
            args += _flat(("--hardware", draw(value_for("--hardware"))) for _ in range(draw(st.integers(0, 2))))
        for opt in ("--title", "--client", "--prepared-by"):
            if draw(st.booleans()):
                args += [opt, draw(text_value)]
        if draw(st.booleans()):
            args += ["--template", draw(file_value)]
        return ["build", *args, *_flat(draw(catalog_opt)), *flags("--force")]
    if command == "fill":
        args = [draw(csv_value)]
        if draw(st.booleans()):
            args += ["--out", draw(file_value)]
        if draw(st.booleans()):
            args += ["--workbook", draw(weighted((st.just("{dir}/new.xlsx"), 1), (xlsx_value, 2)))]
        return ["fill", *args, *_flat(draw(catalog_opt)), *flags("--strict")]
    if command == "export":
        args = [draw(xlsx_value)]
        if draw(st.booleans()):
            args += ["--out", draw(file_value)]
        return ["export", *args]
    if command == "refresh":
        args = [draw(xlsx_value)]
        if draw(st.booleans()):
            args += ["--template", draw(file_value)]
        return ["refresh", *args, *_flat(draw(catalog_opt)), *flags("--force")]
    kind = draw(st.one_of(st.sampled_from(["models", "hardware", "engines", "precisions"]), text_value))
    return ["catalog", kind, *_flat(draw(catalog_opt)), *flags("--json")]


@settings(max_examples=100, **FUZZ)
@given(args=cli_args())
def test_fuzz_cli(base, args):
    assert check(base, args) == []


# --- catalog files ----------------------------------------------------------------------------

TOML_VALUES = ["nan", "inf", "[" * 5000 + "]" * 5000, "{ a = " * 3000 + "1" + " }" * 3000, "-inf", "+inf", "1e309",
               "-1", "0", "1e-320", "9" * 40, '"text"', "[]", "{ a = 1 }", "true", '"\\u001b[31m"',
               '"' + "x" * 5000 + '"', "2026-13-40", '""', "[1, 2]", '["a", 1]', "-0.0"]


@st.composite
def catalog_text(draw):
    lines = (DATA / "tiny.toml").read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "value", "value", "delete", "duplicate", "insert", "cut"]))
        if op == "value" and "=" in lines[i]:
            lines[i] = lines[i].split("=", 1)[0] + "= " + draw(st.one_of(st.sampled_from(TOML_VALUES),
                                                                         text_value.map(json.dumps)))
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.one_of(st.sampled_from(["[[models]]", "[[hardware]]", "[[bogus]]", "x = 1",
                                                             "[models]", "id = 'toy-gpu'", "a.b.c = 1"]),
                                           text_value)))
        elif op == "cut":
            lines = lines[:i]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


CATALOG_COMMANDS = [
    ["estimate", "--model", "toy-dense", "--hardware", "toy-gpu", "--json"],
    ["estimate", "--model", "toy-api", "--json"],
    ["plan", "--model", "toy-moe", "--hardware", "toy-gpu", "--requests-per-day", "1000", "--json"],
    ["catalog", "hardware", "--json"],
    ["catalog", "models"],
]


@settings(max_examples=80, **FUZZ)
@given(text=catalog_text(), command=st.sampled_from(CATALOG_COMMANDS))
def test_fuzz_catalog_files(base, text, command):
    def prepare(folder):
        (folder / "user.toml").write_text(text, encoding="utf-8")
    assert check(base, [*command, "--catalog", "{dir}/user.toml"], prepare) == []


# --- workbooks ----------------------------------------------------------------------------------

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;'
        b'&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<lolz>&lol3;</lolz>')


OPS = ["delete", "truncate", "garbage", "entities", "doctype", "far cell", "dimension", "extra column",
       "bad shared string", "odd value", "rename sheet"]
SHEET_OPS = {"far cell", "dimension", "extra column", "bad shared string", "odd value"}
FAR_CELLS = [b"A1048576", b"XFD1", b"XFD1048576", b"ZZ100000"]
ODD_VALUES = [b"NaN", b"INF", b"1e309", b"-1", b"x", b"", b"99999999999999999999999"]

mutation = st.fixed_dictionaries({
    "op": st.sampled_from(OPS), "part": st.integers(0, 10_000), "at": st.floats(0, 1),
    "garbage": st.binary(min_size=1, max_size=20), "cell": st.sampled_from(FAR_CELLS),
    "value": st.sampled_from(ODD_VALUES), "count": st.integers(1, 50)})


def _mutate_xml(data: bytes, m: dict) -> bytes:
    op, i = m["op"], int(m["at"] * max(len(data) - 1, 0))
    if op == "truncate":
        return data[:i]
    if op == "garbage":
        return data[:i] + m["garbage"] + data[i + 1:]
    if op == "entities":
        return BOMB
    if op == "doctype":
        return re.sub(rb"^(<\?xml[^>]*\?>)?", lambda x: (x.group(0) or b"") + b'<!DOCTYPE x [<!ENTITY e "e">]>',
                      data, count=1)
    if op == "far cell":
        row = int(re.sub(rb"[A-Z]", b"", m["cell"]))
        return data.replace(b"</sheetData>", b'<row r="%d"><c r="%s"><v>1</v></c></row></sheetData>'
                            % (row, m["cell"]), 1)
    if op == "dimension":
        return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', data, count=1)
    if op == "extra column":
        return re.sub(rb"(<row [^>]*>)", rb'\1<c r="Z2" t="inlineStr"><is><t>extra</t></is></c>', data, count=3)
    if op == "bad shared string":
        return re.sub(rb'(<c [^>]*t="s"[^>]*><v>)\d+', rb"\g<1>999999", data, count=5)
    if op == "odd value":
        return re.sub(rb"<v>[^<]*</v>", b"<v>" + m["value"] + b"</v>", data, count=m["count"])
    if op == "rename sheet":
        return re.sub(rb'name="(Scenarios|Cover|Built|Hardware|Assumptions)"', b'name="Other"', data, count=1)
    return data


def write_mutated(src: Path, dst: Path, mutations: list[dict]) -> None:
    """``src`` with each mutation applied to one of its parts, zipped again as ``dst``."""
    with zipfile.ZipFile(src) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    for m in mutations:
        names = sorted(parts)
        if m["op"] in SHEET_OPS:
            names = [n for n in names if n.startswith("xl/worksheets/sheet")] or names
        elif m["op"] == "rename sheet":
            names = [n for n in names if n == "xl/workbook.xml"] or names
        if not names:
            break
        name = names[m["part"] % len(names)]
        if m["op"] == "delete":
            del parts[name]
        else:
            parts[name] = _mutate_xml(parts[name], m)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


WORKBOOK_COMMANDS = [
    ["refresh", "{dir}/m.xlsx"],
    ["refresh", "{dir}/m.xlsx", "--force"],
    ["export", "{dir}/m.xlsx"],
    ["build", "--template", "{dir}/m.xlsx", "--out", "{dir}/new.xlsx"],
    ["refresh", "{dir}/q.xlsx", "--template", "{dir}/m.xlsx"],
]


@settings(max_examples=50, **FUZZ)
@given(mutations=st.lists(mutation, min_size=1, max_size=3), command=st.sampled_from(WORKBOOK_COMMANDS),
       source=st.sampled_from(["q.xlsx", "calc.xlsx", "t.xlsx"]))
def test_fuzz_workbooks(base, mutations, command, source):
    assert check(base, command, lambda folder: write_mutated(folder / source, folder / "m.xlsx", mutations)) == []
