"""One option table (core/options.py) drives every surface: the core's checks, the command line,
the Excel functions' argument help, the quote's Scenarios columns, fill's CSV columns, the JSON
keys and the README. Each default is written once."""

import ast
import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmcalc_xl.cli import readme
from llmcalc_xl.cli.main import main
from llmcalc_xl.core import options as O
from llmcalc_xl.core.estimate import INPUT_KEYS, NUMBER_OPTIONS, OPTION_NAMES, TEXT_OPTIONS, estimate
from llmcalc_xl.errors import InvalidValueError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "llmcalc_xl"
#: Where the defaults are written: the values with their sources, and the table that names them.
HOMES = {PACKAGE / "core" / "defaults.py", PACKAGE / "core" / "options.py"}
#: The formulas' own parameters: cost.py's ``utilization=1.0`` is the neutral share (GPUs always busy)
#: of a pure function, not the scenario's default; physics.py passes the scenario's value.
FORMULAS = {PACKAGE / "core" / name for name in ("physics.py", "memory.py", "speed.py", "cost.py")}


# --- the table itself ----------------------------------------------------------------------------

def test_names_are_unique_snake_case_with_the_old_imports_still_working():
    assert len(set(OPTION_NAMES)) == len(OPTION_NAMES) == len(O.OPTIONS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in OPTION_NAMES)
    # the names other modules imported from core.estimate before the table existed
    assert set(NUMBER_OPTIONS) | set(TEXT_OPTIONS) == set(OPTION_NAMES)
    assert NUMBER_OPTIONS["input_tokens"] == {"minimum": 0, "whole": True, "default": 1000}
    assert NUMBER_OPTIONS["utilization"] == {"above": 0, "maximum": 1, "default": 1.0}
    assert NUMBER_OPTIONS["latency_s"] == {"above": 0, "default": None}
    assert TEXT_OPTIONS == ("model", "hardware", "precision", "engine", "autoscale", "kv_precision", "pricing",
                            "provider", "capex_upfront")
    assert O.CATALOG_OPTIONS == ("model", "hardware", "precision", "engine", "kv_precision")
    assert O.CHOICE_OPTIONS == {"pricing": ("on-demand", "reserved-1y", "reserved-3y", "spot", "owned"),
                                "autoscale": ("yes", "no"), "capex_upfront": ("yes", "no")}


def test_the_core_applies_the_tables_defaults_and_rules():
    # not given: the defaults the README promises (1,000 in, 500 out, 1 GPU, batch 1)
    r = estimate("llama-3-8b", "l4").to_dict()
    assert (r["input_tokens"], r["output_tokens"], r["gpus"], r["batch"], r["cached_input_tokens"]) == (1000, 500, 1, 1, 0)
    assert r["utilization"] == 1.0 and r["precision"] == "fp16" and r["engine"] == "vllm"
    with pytest.raises(InvalidValueError, match="^utilization must be <= 1, got 1.5$"):
        estimate("llama-3-8b", "l4", utilization=1.5)
    with pytest.raises(InvalidValueError, match="^batch must be a whole number or max, got 2.5$"):
        estimate("llama-3-8b", "l4", batch=2.5)


def test_an_option_refuses_a_rule_on_text_and_text_defaults_on_numbers():
    with pytest.raises(ValueError, match="kind must be"):
        O.Option("x", "count", "X", "X")
    with pytest.raises(ValueError, match="text option has no number rule"):
        O.Option("x", "text", "X", "X", minimum=0)
    with pytest.raises(ValueError, match="default must be a number"):
        O.Option("x", "number", "X", "X", default="auto")


@pytest.mark.parametrize("name, word, text", [
    ("input_tokens", "default", "Prompt tokens per request (tokens; default: 1000)."),
    ("utilization", "empty", "Share of time the GPUs do useful work (0-1; empty: 1)."),
    ("context_tokens", "default", "Context reserved per sequence (tokens; default: input + output)."),
    ("requests_per_month", "default", "Requests a month, for the monthly cost (requests)."),
    ("model", "default", "Model id or name: open-weight (llama-3-8b, \"Llama 3 70B\") or API (gpt-4o)."),
])
def test_help_text_says_unit_and_default(name, word, text):
    assert O.BY_NAME[name].help_text(word) == text


@pytest.mark.parametrize("name, rule", [
    ("gpus", ">= 1, whole"), ("utilization", "> 0, <= 1"), ("price_per_hour", ">= 0"), ("engine", ""),
])
def test_rule_text(name, rule):
    assert O.BY_NAME[name].rule_text == rule


# --- every surface follows it ---------------------------------------------------------------------

def test_the_quote_has_a_column_per_option_with_the_tables_header():
    from llmcalc_xl.workbook import formulas as F
    from llmcalc_xl.workbook.build import scenario_headers

    assert F.INPUT_KEYS == ("scenario",) + OPTION_NAMES
    assert F.ADVANCED_INPUTS == tuple(o.name for o in O.OPTIONS if o.advanced)
    headers = scenario_headers()
    # what a reader of the quote sees (written out, not derived)
    assert headers["input_tokens"] == "Input tokens (empty: 1000)"
    assert headers["gpus"] == "GPUs (empty: 1; auto: fewest that fit)"
    assert headers["cached_input_tokens"] == "Cached input tokens (empty: 0)"
    assert headers["utilization"] == "Utilization 0-1 (empty: default)"
    assert headers["requests_per_month"] == "Requests per month"
    assert all(headers[o.name].startswith(o.header) for o in O.OPTIONS)


def test_excel_arguments_are_described_by_the_table():
    from llmcalc_xl.excel import functions as udfs

    for o in O.OPTIONS:
        assert udfs.ARG_DOCS[o.name] == o.help_text("empty")
    assert udfs.ARG_DOCS["output_tokens"] == "Generated tokens per request (tokens; empty: 500)."
    # LLM_ESTIMATE takes every option of the core
    assert set(inspect.signature(udfs.LLM_ESTIMATE).parameters) == set(OPTION_NAMES)


def test_estimate_command_takes_every_option_with_unit_and_default_in_its_help():
    params = {p.name: p for p in main.commands["estimate"].params}
    assert set(params) - {"catalog_paths", "as_json", "quote_date", "compare_api_model"} == set(OPTION_NAMES)
    for o in O.OPTIONS:
        assert params[o.name].opts == [o.flag] and params[o.name].help == o.help_text()
    text = CliRunner().invoke(main, ["estimate", "--help"], terminal_width=200).output
    assert "--input-tokens N" in text and "Prompt tokens per request (tokens; default: 1000)." in text
    assert "--decode-step-overhead-s X" in text  # the engine overrides are options too


def test_engine_override_from_the_command_line():
    r = CliRunner().invoke(main, ["estimate", "--model", "llama-3-8b", "--hardware", "l4", "--memory-fraction", "1.5"])
    assert r.exit_code == 2 and r.output.strip() == "Error: memory_fraction must be <= 1, got 1.5"


def test_plan_takes_the_tables_defaults():
    from llmcalc_xl.core.plan import plan

    params = {p.name: p for p in main.commands["plan"].params}
    assert (params["input_tokens"].default, params["output_tokens"].default, params["utilization"].default) == \
        (1000, 500, 1.0)
    signature = inspect.signature(plan).parameters
    assert (signature["input_tokens"].default, signature["output_tokens"].default,
            signature["utilization"].default) == (1000, 500, 1.0)


def test_fill_reads_every_option_as_a_column_and_csv_synonyms_name_options():
    from llmcalc_xl.batch.fill import OPTION_COLUMNS
    from llmcalc_xl.scenario_csv import SYNONYMS

    assert set(OPTION_COLUMNS) == set(OPTION_NAMES)
    assert set(SYNONYMS.values()) <= set(OPTION_NAMES) | {"scenario"}


def test_json_keys_of_the_resolved_inputs_are_option_names():
    assert set(INPUT_KEYS) - {"model_kind"} <= set(OPTION_NAMES)
    assert set(estimate("llama-3-8b", "l4").to_dict()) >= set(INPUT_KEYS)


def test_the_readme_table_is_the_tables():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.with_table(text) == text, "The README's option table is stale: run python -m llmcalc_xl.cli.readme"
    assert "| `input_tokens` (`--input-tokens`) | tokens | 1000 | >= 0, whole | Prompt tokens per request |" in text


# --- each default is written once -------------------------------------------------------------------

NUMBER_DEFAULTS = {o.name: o.default for o in O.OPTIONS if isinstance(o.default, (int, float))}
_SAYS_DEFAULT = re.compile(r"(?i)\b(defaults?|empty)\b\W{0,3}(\d[\d,]*(?:\.\d+)?)")


def defaults_written_again(source: str) -> list[str]:
    """Where Python source writes an option's default as a literal instead of taking it from the
    table: a parameter named after the option with a literal default (``input_tokens: int =
    1000``), a click option with a literal default, a rule with one (``{"cached_input_tokens":
    dict(minimum=0, default=0)}``), a tuple that pairs the option's name with its
    default (``("input_tokens", "Input tokens", 1000)``), or text that says "default 1000" or
    "(empty: 1000)". The literal 1000 itself also means milliseconds per second and requests per
    thousand elsewhere, so a bare grep cannot tell; these are the forms a default takes."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args.posonlyargs + node.args.args
            pairs = list(zip(args[len(args) - len(node.args.defaults):], node.args.defaults))
            pairs += [(a, d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg in OPTION_NAMES and isinstance(default, ast.Constant) and default.value is not None:
                    found.append(f"line {default.lineno}: parameter {arg.arg} = {default.value!r}")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).startswith("--"):
            for kw in node.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Constant) and kw.value.value is not None \
                        and node.args[0].value.lstrip("-").replace("-", "_") in OPTION_NAMES:
                    found.append(f"line {kw.value.lineno}: {node.args[0].value} default={kw.value.value!r}")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value in OPTION_NAMES and isinstance(value, ast.Call):
                    found += [f"line {kw.value.lineno}: {key.value} default={kw.value.value!r}" for kw in value.keywords
                              if kw.arg == "default" and isinstance(kw.value, ast.Constant)
                              and kw.value.value is not None]
        elif isinstance(node, ast.Tuple):
            values = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            for name, default in NUMBER_DEFAULTS.items():
                if name in values and any(v == default and not isinstance(v, (str, bool)) for v in values):
                    found.append(f"line {node.lineno}: {name} paired with {default!r}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in _SAYS_DEFAULT.finditer(node.value):
                found.append(f"line {node.lineno}: text '{match.group()}'")
    return found


@pytest.mark.parametrize("source", [
    # the five places the 1,000-token default was written before the option table
    'def plan(models, *, input_tokens: int = 1000, output_tokens: int = 500): pass',
    '@click.option("--input-tokens", type=int, default=1000, show_default=True, help="Prompt tokens.")\ndef f(): pass',
    '@click.option("--input-tokens", help="Prompt tokens per request (default 1000).")\ndef f(): pass',
    'ARG_DOCS = {"input_tokens": "Prompt tokens per request (empty: 1000)."}',
    'INPUTS = (("input_tokens", "Input tokens", 1000),)',
    'NUMBER_OPTIONS = {"cached_input_tokens": dict(minimum=0, whole=True, default=0)}',
])
def test_the_check_sees_a_default_written_again(source):
    assert defaults_written_again(source)


def test_the_check_leaves_other_numbers_alone():
    assert defaults_written_again('x = dict(scenario="chat", input_tokens=1000)\nms = seconds * 1000\n'
                                  'def plan(input_tokens: int = defaults.DEFAULT_INPUT_TOKENS): pass') == []


def test_every_default_is_written_once():
    """Among the package's modules only core/defaults.py (the values, with sources) and
    core/options.py (the table) write the options' defaults."""
    found = {str(path.relative_to(ROOT)): hits for path in sorted(PACKAGE.rglob("*.py"))
             if path not in HOMES | FORMULAS
             if (hits := defaults_written_again(path.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_readme_says_the_defaults_only_in_its_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    outside = text[:text.index(readme.START)] + text[text.index(readme.END):]
    assert [m.group() for m in _SAYS_DEFAULT.finditer(outside)] == []
    assert not re.search(r"1,000 input|1,000-token", outside)
