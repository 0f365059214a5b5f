"""The ``llmcalc-xl`` command line: a thin adapter over the core.

Every error a user can cause becomes one ``Error: ...`` line and exit code 2.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import click

from .. import __version__

DECIMAL_OPTION = click.option(
    "--decimal", type=click.Choice([".", ","]), default=None,
    help="Decimal mark of the CSV's numbers (default: , in a ;-separated file, else .).")
CATALOG_OPTION = click.option(
    "--catalog", "catalog_paths", multiple=True, metavar="PATH",
    help="Your own catalog file (TOML, same format as the shipped ones); repeatable, later files win. "
         "Default: the files in $LLMCALC_XL_CATALOG.")


#: Characters a terminal would act on rather than show: C0 and C1 controls, DEL, line and paragraph
#: separators, bidirectional overrides, and lone surrogates (undecodable bytes in a file name).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff"
                     "\ud800-\udfff]")
#: A value the messages quote: 'value', the quote marks at word boundaries (an apostrophe is not one).
_QUOTED = re.compile(r"(?:(?<=[\s(\[])|^)'((?:[^']|'(?![\s.,:;)?!]|$))+)'(?=[\s.,:;)?!]|$)")
MAX_LINE = 500


def safe_line(text: str) -> str:
    """One line for the terminal, whatever user text it quotes: control characters shown escaped
    (a newline as \\n, ESC as \\x1b), each quoted value over 120 characters cut in the middle with an
    ellipsis, and the whole line at most 500 characters (its start and its end, where the fix is)."""
    text = _UNSAFE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), str(text))
    text = _QUOTED.sub(lambda m: m.group() if len(m.group(1)) <= 120 else f"'{m.group(1)[:70]}...{m.group(1)[-40:]}'",
                       text)
    if len(text) > MAX_LINE:
        text = text[:MAX_LINE - 163] + " ... " + text[-158:]
    return text


def _fail(message: str) -> None:
    click.echo(f"Error: {safe_line(message)}", err=True)
    sys.exit(2)


class _Group(click.Group):
    """Turns the library's errors into one line, whichever command raised them."""

    def invoke(self, ctx: click.Context) -> Any:
        from ..errors import LlmcalcError
        try:
            return super().invoke(ctx)
        except LlmcalcError as exc:
            _fail(str(exc))
        except click.UsageError as exc:  # click's own message quotes the value as typed
            # click declares message Final, but formats the error from it: the cleaned text goes there
            exc.message = safe_line(exc.message)  # type: ignore[misc]
            raise
        except OSError as exc:  # a file that changed under us, a full disk: still one line
            where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
            _fail(f"File{where} cannot be used ({exc.strerror or exc}). Check the path, its permissions and the "
                  "free space.")
        except Exception as exc:
            from openpyxl.utils.exceptions import IllegalCharacterError
            if not isinstance(exc, IllegalCharacterError):
                raise
            text = str(exc).removesuffix(" cannot be used in worksheets.")
            _fail(f"Text '{text}' holds a control character, which a workbook cannot store. Remove it from the "
                  "input, or write a .csv.")


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="llmcalc-xl")
def main() -> None:
    """Price and size LLM inference: memory, speed and cost, API versus your own GPUs."""


def _finite(value: Any) -> Any:
    """JSON-ready: NaN and infinities (no answer, never) become null; numpy numbers plain numbers."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(value: Any, **options: Any) -> str:
    """JSON text that every parser accepts: never NaN or Infinity."""
    return json.dumps(_finite(value), allow_nan=False, **options)


def _check_text(option: str, value: str) -> None:
    """Text for a workbook cell: XML cannot hold control characters other than tab and line ends."""
    bad = re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", value or "")
    if bad:
        from ..errors import InvalidValueError
        raise InvalidValueError(f"{option} '{value}' holds a control character "
                                f"({bad.group().encode('unicode_escape', 'backslashreplace').decode('ascii')}), "
                                "which a workbook cannot store. Remove it.")


def scenario_options(names: tuple[str, ...] | None = None, **settings: dict[str, Any]):
    """click options (``--input-tokens``) for the named options of the core's option table (all
    of them by default), with their help, unit and default. ``settings`` adds click settings per
    option; one given a ``type`` is parsed by click and defaults to the table's default, the
    others go to the core as typed, which parses them and says what is wrong."""
    from ..core.options import BY_NAME, OPTIONS

    options = [BY_NAME[name] for name in names] if names else list(OPTIONS)

    def decorate(f):
        for o in reversed(options):
            extra = settings.get(o.name, {})
            default = {"default": o.default} if "type" in extra and o.default is not None else {}
            f = click.option(o.flag, **dict(dict(help=o.help_text(), metavar=_metavar(o)), **default, **extra))(f)
        return f
    return decorate


def _metavar(option: Any) -> str:
    if option.kind == "text":
        return "NAME" if option.free else "ID"
    if option.word:
        return f"N|{option.word}"
    return "N|auto" if option.name == "gpus" else "N" if option.whole else "X"


def _outputs_apart(outputs: list[tuple[str, Any]], inputs: list[tuple[str, Any]],
                   catalog_paths: tuple[str, ...] = ()) -> None:
    """Before anything is read or written: no output may be an input or another output."""
    from ..catalogs.loader import user_catalog_paths
    from ..files import check_distinct

    check_distinct(outputs, inputs + [("the catalog file", p) for p in user_catalog_paths(catalog_paths)])


def _catalog_text(out: str) -> str:
    """The text of the catalog file ``--out`` names, "" where there is none yet; refused when it is
    not TOML (an entry is added to it, never written over it)."""
    import os
    import tomllib

    from ..errors import InvalidValueError
    from ..files import MAX_CATALOG_BYTES, read_bounded

    if not os.path.exists(out):
        return ""
    text = read_bounded(out, "Catalog file", MAX_CATALOG_BYTES).decode("utf-8", errors="strict")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValueError(f"Catalog file '{out}' is not valid TOML ({exc}). Fix it, or give another "
                                "--out.") from None
    return text


def _compared_api(cat: Any, value: str) -> str:
    """The catalog id of ``--compare-api-model``, refused with the option's name when it is not an
    API model of the catalog."""
    from ..errors import InvalidValueError, LlmcalcError

    try:
        compared = cat.model(value)
    except LlmcalcError as exc:  # an unknown id: the catalog's message, with the closest ids
        raise InvalidValueError(f"--compare-api-model: {exc}") from None
    if compared.kind != "api":
        raise InvalidValueError(f"--compare-api-model '{compared.id}' is not an API model. Give one such as gpt-4o.")
    return compared.id


@main.command()
@scenario_options(model=dict(required=True))
@CATALOG_OPTION
@click.option("--quote-date", metavar="YYYY-MM-DD", help="Price API models as on this day (default: today); "
                                                            "a model retired by then gets a note.")
@click.option("--compare-api-model", metavar="ID", help="Also give the horizon forecast against this API model: "
              "horizon_cost_usd, horizon_cost_api_usd, npv_usd, npv_api_usd, crossover_month.")
@click.option("--json", "as_json", is_flag=True, help="Print one flat JSON object.")
def estimate(model: str, hardware: str | None, catalog_paths: tuple[str, ...], as_json: bool,
             quote_date: str | None, compare_api_model: str | None, **options: Any) -> None:
    """Memory, fit, speed and cost of one scenario."""
    from ..catalogs.loader import load_catalog
    from ..core.estimate import estimate as run
    from .report import estimate_text, horizon_text

    cat = load_catalog(catalog_paths)
    given = {k: v for k, v in options.items() if v is not None}
    result = run(model, hardware, catalog=cat, quote_date=quote_date, **given)
    d = result.to_dict()
    horizon: dict[str, Any] | None = None
    if compare_api_model is not None:
        from ..core.plan import HORIZON_KEYS, horizon_many

        api = _compared_api(cat, compare_api_model)
        h = horizon_many(api, model, hardware, catalog=cat, quote_date=quote_date, series=True, **given)
        horizon = {"compare_api_model": api, **{k: float(h[k][0]) for k in HORIZON_KEYS}}
        months = [dict(month=m + 1) for m in range(h["monthly_usd"].shape[1]) if not math.isnan(h["monthly_usd"][0, m])]
    if as_json:
        notes = d.pop("notes")
        click.echo(_dumps({**d, **(horizon or {}), "notes": notes}))
        return
    hw_name = cat.hardware(d["hardware"]).name if d.get("hardware") not in (None, "custom") else None
    eng_name = cat.engine(d["engine"]).name if d.get("engine") else None
    batch_max = isinstance(given.get("batch"), str) and given["batch"].strip().lower() == "max"
    fitted = cat.calibration(d["engine"], d["hardware"]) if d.get("engine") and d.get("hardware") else None
    calibrated = f"{fitted.id}: {fitted.source}, {fitted.as_of}" if fitted else None
    click.echo(estimate_text(d, hw_name, eng_name, result.notes, batch_max, _layout_given(given, d), calibrated))
    if horizon is not None and math.isnan(horizon["npv_usd"]):
        click.echo(f"\nNo horizon forecast against {horizon['compare_api_model']}: the scenario has no monthly cost "
                   "(give requests_per_month, and hardware with a price).")
    elif horizon is not None:
        click.echo("\n" + horizon_text(horizon, months, given, False))


def _layout_given(given: dict[str, Any], d: dict[str, Any]) -> str | None:
    """The parallel layout in words, as plan writes it ("tp 2 x dp 4, ep 4"), where tp, dp or ep was given."""
    if not d.get("hardware") or d["tp"] is None or all(given.get(k) is None for k in ("tp", "dp", "ep")):
        return None
    from ..core.plan import layout_text

    return layout_text(d["tp"], d["dp"], d["ep"], d["gpus"])


@main.group(cls=_Group)
def catalog() -> None:
    """List, check and update the catalogs (models, hardware, engines, precisions); add a model from its
    config.json."""


LISTING_COLUMNS = {
    "models": [("id", "id"), ("kind", "kind"), ("params_b", "params (B)"), ("active_params_b", "active (B)"),
               ("context_length", "context"), ("input_usd_per_mtok", "in $/Mtok"),
               ("output_usd_per_mtok", "out $/Mtok"), ("as_of", "as of"), ("source", "source")],
    "hardware": [("id", "id"), ("memory_gib", "GiB"), ("bandwidth_gb_s", "GB/s"), ("tflops_fp16", "TFLOPS 16-bit"),
                 ("price_usd_per_hour", "$/GPU-h"), ("price_provider", "price from"), ("price_as_of", "price as of"),
                 ("as_of", "specs as of"), ("source", "source")],
    "engines": [("id", "id"), ("parallelism", "parallelism"), ("memory_fraction", "memory share"),
                ("decode_mbu", "decode MBU"), ("prefill_mfu", "prefill MFU"), ("as_of", "as of"),
                ("source", "source")],
    "precisions": [("id", "id"), ("bits_per_weight", "bits/weight"), ("compute", "computes in"),
                   ("kv_bytes", "KV bytes"), ("as_of", "as of"), ("source", "source")],
}


def _list_catalog(kind: str, catalog_paths: tuple[str, ...], as_json: bool) -> None:
    """List catalog entries with their key figures, source and date."""
    import dataclasses

    from ..catalogs.loader import load_catalog
    from .report import table

    cat = load_catalog(catalog_paths)
    if kind == "models":
        entries = cat.entries("models") + cat.entries("api_models")
    else:
        entries = cat.entries(kind)
    if as_json:
        rows = []
        for e in entries:
            d = dataclasses.asdict(e)
            d["aliases"] = list(d.get("aliases", ()))
            for k, v in list(d.items()):
                if isinstance(v, tuple):
                    d[k] = list(v)
            if kind == "models":
                d["kind"] = e.kind
            # where each group of numbers comes from, whatever the catalog calls its fields
            d["provenance"] = {p.group: {"source": p.source, "as_of": p.as_of, "file": p.file}
                               for p in cat.provenance(e)}
            rows.append(d)
        click.echo(_dumps(rows, indent=1))
        return
    columns = LISTING_COLUMNS[kind]
    rows = []
    for e in entries:
        row = {k: getattr(e, k, None) for k, _ in columns}
        if kind == "models":
            row["kind"] = e.kind
        source = row.get("source")
        if isinstance(source, str) and len(source) > 60:
            row["source"] = source[:57] + "..."
        rows.append(row)
    click.echo(table(rows, columns))


def _listing(kind: str) -> click.Command:
    @click.command(name=kind, help=f"List the {kind} with their key figures, source and date.")
    @CATALOG_OPTION
    @click.option("--json", "as_json", is_flag=True, help="Print the entries as JSON, with the source and date of "
                  "each group of numbers (specs, price, speed).")
    def listing(catalog_paths: tuple[str, ...], as_json: bool) -> None:
        _list_catalog(kind, catalog_paths, as_json)
    return listing


for _kind in ("models", "hardware", "engines", "precisions"):
    catalog.add_command(_listing(_kind))


@catalog.command("prices")
@click.option("--hardware", "hardware", multiple=True, help="Only these devices (repeatable).")
@CATALOG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the prices as JSON.")
def catalog_prices(hardware: tuple[str, ...], catalog_paths: tuple[str, ...], as_json: bool) -> None:
    """List the published prices of GPU time: per device, each provider's price in each tier (on-demand,
    reserved-1y, reserved-3y, spot), with the tier's default marked, source and date."""
    from ..catalogs.loader import load_catalog
    from .report import table

    cat = load_catalog(catalog_paths)
    wanted = [cat.resolve_id("hardware", h) for h in hardware]
    rows = []
    for h in cat.entries("hardware"):
        if wanted and h.id not in wanted:
            continue
        for p in h.prices:
            rows.append({"hardware": h.id, "provider": p.provider, "tier": p.tier,
                         "usd_per_gpu_hour": p.usd_per_gpu_hour, "default": p is h.price(p.tier),
                         "instance": p.instance or None, "instance_usd_per_hour": p.instance_usd_per_hour,
                         "gpus_per_instance": p.gpus_per_instance, "as_of": p.as_of, "source": p.source})
    if as_json:
        click.echo(_dumps(rows, indent=1))
        return
    for row in rows:
        row["default"] = "yes" if row["default"] else ""
        if len(row["source"]) > 60:
            row["source"] = row["source"][:57] + "..."
    click.echo(table(rows, [("hardware", "hardware"), ("provider", "provider"), ("tier", "tier"),
                            ("usd_per_gpu_hour", "$/GPU-h"), ("default", "default"), ("instance", "instance"),
                            ("as_of", "as of"), ("source", "source")]))


def _quote_ids(cat: Any, workbook: str | None, scenarios_csv: str | None, decimal: str | None) -> set[str] | None:
    """The catalog ids a quote uses (its scenarios' models and devices, and the API model it compares
    with), or None when no quote is given."""
    if not workbook and not scenarios_csv:
        return None
    from ..catalogs.check import ids_of_rows
    from ..files import check_workbook, regular_file

    ids: set[str] = set()
    if workbook:
        from ..workbook.refresh import read_assumption, read_scenarios

        regular_file(workbook, "Workbook")
        check_workbook(workbook)
        ids |= ids_of_rows(cat, read_scenarios(workbook))
        compared = read_assumption(workbook, "compare_api_model")
        if compared:
            ids |= ids_of_rows(cat, [{"model": compared}])
    if scenarios_csv:
        from ..workbook.quote import scenarios_from_csv

        regular_file(scenarios_csv, "Scenarios file")
        rows, _ = scenarios_from_csv(scenarios_csv, cat, decimal=decimal)
        ids |= ids_of_rows(cat, rows)
    return ids


@catalog.command("check")
@click.option("--max-age-days", type=click.IntRange(min=0), default=90, show_default=True,
              help="A price stated more days than this before the day checked is stale.")
@click.option("--on", "on_day", metavar="DATE", help="Check as on this day, e.g. a quote's valid-until date "
              "(default: today).")
@click.option("--workbook", metavar="QUOTE.xlsx", help="Fail only on entries this quote uses (its scenarios and the "
              "API model it compares with).")
@click.option("--scenarios", "scenarios_csv", metavar="CSV", help="Fail only on entries these scenarios use.")
@DECIMAL_OPTION
@CATALOG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def catalog_check(max_age_days: int, on_day: str | None, workbook: str | None, scenarios_csv: str | None,
                  decimal: str | None, catalog_paths: tuple[str, ...], as_json: bool) -> None:
    """List retired models, ended prices and prices older than --max-age-days; exit 1 when any
    fails the check (retired models, kept for old quotes, fail only when a quote uses them)."""
    import datetime as dt

    from ..catalogs.check import find
    from ..catalogs.loader import load_catalog

    on = _date_option("--on", on_day) if on_day else dt.date.today()
    cat = load_catalog(catalog_paths)
    used = _quote_ids(cat, workbook, scenarios_csv, decimal)
    findings = find(cat, on, max_age_days, used)
    failing = [f for f in findings if f.failing]
    if as_json:
        click.echo(_dumps({"on": on.isoformat(), "catalog_as_of": cat.as_of(), "max_age_days": max_age_days,
                           "findings": [f.to_dict() for f in findings], "failing": len(failing)}, indent=1))
    else:
        click.echo(_check_report(cat, findings, on, max_age_days, used is not None))
    if failing:
        sys.exit(1)


def _check_report(cat: Any, findings: list[Any], on: Any, max_age_days: int, quote: bool) -> str:
    import datetime as dt

    oldest = on - dt.timedelta(days=max_age_days)
    lines = [f"Catalog as of {cat.as_of()}, checked on {on.isoformat()}: prices stated before {oldest.isoformat()} "
             f"({max_age_days} days) are stale."]
    titles = {"retired": "Retired models, kept so that old quotes still compute (a problem only for a quote that "
                         "uses them):",
              "ended": "Ended prices (the catalog's price has given way to the next one of its schedule):",
              "stale": f"Stale prices (older than {max_age_days} days):"}
    for kind, title in titles.items():
        group = [f for f in findings if f.kind == kind]
        if not group:
            continue
        lines += ["", title]
        width = max(len(f.id) for f in group)
        for f in group:
            where = "" if f.file == "shipped" else f" [{f.file}]"
            mark = "" if f.used is None else ("  USED BY THE QUOTE" if f.used else "  (not used by the quote)")
            lines.append(safe_line(f"  {f.id:<{width}}  {f.text}{where}{mark}"))
    failing = [f for f in findings if f.failing]
    counts = ", ".join(f"{n} {kind}" for kind in titles if (n := sum(1 for f in failing if f.kind == kind)))
    lines.append("")
    if failing:
        lines.append(f"{len(failing)} problem{'s' if len(failing) != 1 else ''}{' in the quote' if quote else ''} "
                     f"({counts}). Give newer prices in your own catalog file (--catalog), e.g. with "
                     "`llmcalc-xl catalog import-prices`, or move the quote off retired models.")
    else:
        lines.append("OK: no stale or ended price" + (", and no retired model, in the quote." if quote else
                                                      "; retired models are listed only."))
    return "\n".join(lines)


def _date_option(option: str, value: str) -> Any:
    import datetime as dt

    from ..errors import InvalidValueError
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValueError(f"{option} '{value}' is not a date. Give it as YYYY-MM-DD, e.g. 2026-11-30.") from None


@catalog.command("import-prices")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", metavar="TOML", help="The catalog file to write (default: "
              "litellm-prices-<as-of>.toml).")
@click.option("--as-of", "as_of", metavar="DATE", help="The day the file states its prices (default: the file's "
              "modification date, the day you downloaded it).")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@CATALOG_OPTION
def import_prices(file: str, out_path: str | None, as_of: str | None, force: bool,
                  catalog_paths: tuple[str, ...]) -> None:
    """Write the prices in LiteLLM's model_prices_and_context_window.json of the catalog's API models,
    as their own providers sell them, as a dated catalog file to use with --catalog."""
    import datetime as dt
    import os
    from pathlib import Path

    from ..catalogs.litellm import import_prices as run, to_toml
    from ..catalogs.loader import load_catalog, user_catalog_paths
    from ..errors import InvalidValueError
    from ..files import check_writable, read_bounded, replacing

    raw = read_bounded(file, "LiteLLM price file", 64 * 1024**2)
    day = _date_option("--as-of", as_of) if as_of else dt.date.fromtimestamp(os.stat(file).st_mtime)
    out = Path(out_path or f"litellm-prices-{day.isoformat()}.toml")
    _outputs_apart([("--out", out)], [("the LiteLLM price file", file)], catalog_paths)
    check_writable(out, probe=True)
    if out.exists() and not force:
        raise InvalidValueError(f"'{out}' already exists. Add --force to replace it, or choose another --out.")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidValueError(f"LiteLLM price file '{file}' is not JSON ({exc}). Give LiteLLM's "
                                "model_prices_and_context_window.json as downloaded from github.com/BerriAI/litellm."
                                ) from None
    cat = load_catalog(catalog_paths)
    result = run(data, cat, day.isoformat(), Path(file).name)
    if not result.entries:
        raise InvalidValueError(f"LiteLLM price file '{file}' prices no API model of the catalog as its own provider "
                                f"sells it, as of {day.isoformat()} or later than the catalog. Nothing was written.")
    header = [f"API prices from LiteLLM's model_prices_and_context_window.json ({Path(file).name}), as of "
              f"{day.isoformat()},", f"written by `llmcalc-xl catalog import-prices` on {dt.date.today().isoformat()}. "
              "Use it with --catalog or LLMCALC_XL_CATALOG.",
              "Each entry gives a model's whole price, which replaces the catalog's (and its price schedule);",
              "the model's specs and speed figures keep their own sources."]
    with replacing(out) as tmp:
        tmp.write_text(to_toml(result.entries, header), encoding="utf-8")
        load_catalog([*user_catalog_paths(catalog_paths), tmp])  # it loads as a catalog, or nothing is replaced
    n = len(result.entries)
    click.echo(f"Wrote {out}: {n} price{'s' if n != 1 else ''} as of {day.isoformat()} ({len(result.changed)} changed, "
               f"{len(result.confirmed)} the same as the catalog's). Use it with --catalog {out}.")
    notes = [(result.newer_in_catalog, "kept: the catalog's price is newer than the file"),
             (result.disagreeing, "left out: the file's names for the model disagree on the price"),
             (result.refused, "left out: the price fails the catalog's checks")]
    for ids, why in notes:
        if ids:
            click.echo(safe_line(f"{len(ids)} {why}: {'; '.join(ids)}"), err=True)
    if result.other_providers or result.not_in_catalog:
        click.echo(f"Not imported: {result.not_in_catalog:,} priced text models the catalog has no API entry for "
                   "(add them to your own catalog to price them), and "
                   f"{result.other_providers:,} names of catalog models sold through a cloud or a reseller.",
                   err=True)


@catalog.command("add-model")
@click.argument("config_path", metavar="CONFIG.json")
@click.option("--id", "model_id", required=True, help="Catalog id for the model: lower case with hyphens, e.g. "
              "my-qwen3-32b.")
@click.option("--out", "out_path", metavar="FILE", help="Your catalog file to add it to (created if missing). "
              "Default: the first file in $LLMCALC_XL_CATALOG, else my-models.toml.")
@click.option("--name", default="", help="Display name (default: the id).")
@click.option("--alias", "aliases", multiple=True, help="A name people type for it, e.g. the Hugging Face repo id "
              "(repeatable).")
@click.option("--source", default="", help="Where the config.json comes from, e.g. its Hugging Face URL.")
@click.option("--as-of", "as_of", default="", help="Date of the config (YYYY-MM-DD; default today).")
@click.option("--force", is_flag=True, help="Replace a model of the same id in FILE, or override a shipped one.")
def add_model(config_path: str, model_id: str, out_path: str | None, name: str, aliases: tuple[str, ...],
              source: str, as_of: str, force: bool) -> None:
    """Add a model to your catalog from its Hugging Face config.json, with the exact parameter count.

    Dense, MoE, MLA, sliding, chunked and linear-attention (Gated DeltaNet, Mamba2) architectures are
    counted; every surface (estimate, build, fill, the Excel functions) then sees the model through
    --catalog FILE or $LLMCALC_XL_CATALOG."""
    import datetime
    import os

    from ..catalogs.hf_config import entry_from_config, with_entry
    from ..catalogs.loader import _load_dict, KINDS, load_catalog, user_catalog_paths
    from ..errors import InvalidValueError
    from ..files import MAX_CATALOG_BYTES, check_distinct, read_bounded, replacing

    out = out_path or (user_catalog_paths() or ("my-models.toml",))[0]
    check_distinct([("--out", out)], [("CONFIG.json", config_path)])
    raw = read_bounded(config_path, "Config file", MAX_CATALOG_BYTES)
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidValueError(f"Config file '{config_path}' is not JSON ({str(exc).splitlines()[0]}). Give the "
                                "model's config.json from its Hugging Face repo.") from None
    as_of = as_of or datetime.date.today().isoformat()
    entry = entry_from_config(config, model_id, name=name, aliases=list(aliases), as_of=as_of,
                              source=source or f"config.json read by llmcalc-xl catalog add-model from "
                                               f"{os.path.basename(config_path)}")
    # the id: the loader's rules, said before anything is written
    probe: dict[str, dict] = {k: {} for k in KINDS}
    _load_dict({"models": [dict(entry, source=entry["source"] or "config.json")]}, probe, "The new entry", user=False)
    shipped = load_catalog(()).ids("models") + load_catalog(()).ids("api_models")
    if model_id in shipped and not force:
        raise InvalidValueError(f"Model id '{model_id}' is already a shipped catalog model. Choose another --id, "
                                "or add --force to override it with this config's numbers.")
    new_text, replaced = with_entry(_catalog_text(out), entry, replace=force)
    with replacing(out) as tmp:
        tmp.write_text(new_text, encoding="utf-8")
        load_catalog([tmp])  # the file must load with the shipped catalog before it replaces the old one
    params = f"{entry['params_b']:,.3f}B parameters" + (
        f", {entry['active_params_b']:,.3f}B active" if entry["experts"] else "")
    click.echo(f"{'Replaced' if replaced else 'Added'} model '{model_id}' ({params}) in {out}. "
               f"Use it with --catalog {out}, or set {'LLMCALC_XL_CATALOG'}={out}.")


@main.command()
@click.option("--model", required=True, help="The open-weight model you measured.")
@click.option("--hardware", required=True, help="The device you measured it on (one GPU of --gpus).")
@click.option("--engine", required=True, help="The engine you served it with.")
@click.option("--measured-tpot-ms", "tpot_ms", type=float, required=True, metavar="X",
              help="Measured time per output token, milliseconds (the mean a client sees).")
@click.option("--measured-ttft-ms", "ttft_ms", type=float, metavar="Y",
              help="Measured time to first token, milliseconds (fits prefill_mfu too).")
@scenario_options(("batch", "input_tokens", "output_tokens", "precision", "kv_precision", "gpus", "context_tokens",
                   "tp", "dp", "ep"))
@click.option("--source", required=True, help="Where the measurement comes from, e.g. \"our lab, vLLM 0.11 on "
              "2026-11-20\".")
@click.option("--out", "out_path", required=True, metavar="FILE", help="Your catalog file to write the calibration "
              "to (created if missing; another engine or device is added beside what it holds).")
@click.option("--force", is_flag=True, help="Replace a calibration of the same engine and device in FILE.")
@CATALOG_OPTION
def calibrate(model: str, hardware: str, engine: str, tpot_ms: float, ttft_ms: float | None, source: str,
              out_path: str, force: bool, catalog_paths: tuple[str, ...], **options: Any) -> None:
    """Fit an engine's efficiencies on one device to your own measurement, into a catalog file.

    The decode efficiencies (decode_mbu and decode_mfu, scaled together) are fitted so that the
    estimate of the scenario gives the measured TPOT; with --measured-ttft-ms, prefill_mfu so that it
    gives the measured TTFT. The file holds a [[calibrations]] entry for that engine on that device,
    which every surface applies through --catalog FILE or $LLMCALC_XL_CATALOG."""
    import datetime
    import os

    from ..catalogs.calibrations import with_calibration
    from ..catalogs.loader import calibration_id, load_catalog, user_catalog_paths
    from ..core.calibrate import fit_efficiencies
    from ..files import replacing

    given = {k: v for k, v in options.items() if v is not None}
    cat = load_catalog(catalog_paths)
    fit = fit_efficiencies(model, hardware, engine, tpot_ms / 1e3, None if ttft_ms is None else ttft_ms / 1e3,
                           catalog=cat, **given)
    entry = dict(id=calibration_id(fit.engine_id, fit.hardware_id), engine=fit.engine_id, hardware=fit.hardware_id,
                 prefill_mfu=None if fit.prefill_mfu is None else float(f"{fit.prefill_mfu:.6g}"),
                 decode_mfu=float(f"{fit.decode_mfu:.6g}"), decode_mbu=float(f"{fit.decode_mbu:.6g}"),
                 measurement=fit.describe(tpot_ms / 1e3, None if ttft_ms is None else ttft_ms / 1e3),
                 source=source, as_of=datetime.date.today().isoformat(),
                 notes="fitted by llmcalc-xl calibrate; the engine's other numbers keep their catalog source")
    new_text, replaced = with_calibration(_catalog_text(out_path), entry, replace=force)
    others = [p for p in user_catalog_paths(catalog_paths) if os.path.abspath(p) != os.path.abspath(out_path)]
    with replacing(out_path) as tmp:
        tmp.write_text(new_text, encoding="utf-8")
        load_catalog([*others, tmp])  # the file must load with the catalog before it replaces the old one
    own = fit.engine_efficiencies
    fitted = [("decode_mbu", own["decode_mbu"], fit.decode_mbu), ("decode_mfu", own["decode_mfu"], fit.decode_mfu)]
    if fit.prefill_mfu is not None:
        fitted.append(("prefill_mfu", own["prefill_mfu"], fit.prefill_mfu))
    ttft = f", TTFT {fit.ttft_s * 1e3:.4g} ms (was {fit.default_ttft_s * 1e3:.4g})" if ttft_ms is not None else ""
    click.echo(f"{'Replaced' if replaced else 'Added'} calibration '{entry['id']}' in {out_path}: "
               + ", ".join(f"{n} {a:g} -> {b:.4g}" for n, a, b in fitted)
               + f". The estimate now gives TPOT {fit.tpot_s * 1e3:.4g} ms (was {fit.default_tpot_s * 1e3:.4g}){ttft}. "
               f"Use it with --catalog {out_path}, or set LLMCALC_XL_CATALOG={out_path}.")


@main.command()
@click.option("--model", "models", multiple=True, required=True,
              help="Open-weight model to self-host (repeatable); API models named here are compared too.")
@click.option("--requests-per-day", type=float, help="Target load, requests per day.")
@click.option("--requests-per-s", type=float, help="Target load, requests per second.")
@scenario_options(("input_tokens", "output_tokens"), input_tokens=dict(type=int), output_tokens=dict(type=int))
@click.option("--hardware", multiple=True, help="Hardware to consider (repeatable; default: all with a cloud price).")
@click.option("--api-model", "api_models", multiple=True, help="API models to compare (repeatable; default: all).")
@click.option("--max-ttft-s", type=float, help="Latency target: time to first token, seconds.")
@click.option("--max-tpot-s", type=float, help="Latency target: time per output token, seconds.")
@click.option("--max-latency-s", type=float, help="Latency target: whole request, seconds.")
@click.option("--max-ttft-p90-s", type=float, help="Latency target: 90th percentile of the time to first token, "
              "seconds, with requests arriving at random at each replica (the request-rate view).")
@click.option("--max-ttft-p99-s", type=float, help="Latency target: 99th percentile of the time to first token, "
              "seconds (as --max-ttft-p90-s).")
@click.option("--max-tpot-p90-s", type=float, help="Latency target: 90th percentile of the time per output token, "
              "seconds (as --max-ttft-p90-s).")
@click.option("--max-tpot-p99-s", type=float, help="Latency target: 99th percentile of the time per output token, "
              "seconds (as --max-ttft-p90-s).")
@scenario_options(("precision", "engine", "utilization", "peak_to_average", "redundancy", "autoscale",
                   "peak_hours_per_day"),
                  utilization=dict(type=float), peak_to_average=dict(type=float), redundancy=dict(type=float),
                  peak_hours_per_day=dict(type=float))
@click.option("--top", type=int, default=10, show_default=True, help="How many self-hosted options to show.")
@CATALOG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan(models: tuple[str, ...], catalog_paths: tuple[str, ...], as_json: bool, top: int,
         hardware: tuple[str, ...], api_models: tuple[str, ...], **options: Any) -> None:
    """Which hardware serves a load, at what monthly cost, against the APIs."""
    from ..core.plan import PERCENTILE_TARGETS, PLAN_PRICINGS, plan as run
    from .report import money, table

    result = run(models, hardware=hardware, api_models=api_models, catalog=catalog_paths, **options)
    if as_json:
        click.echo(_dumps({"requests_per_month": result.requests_per_month,
                           "peak_to_average": result.peak_to_average, "redundancy": result.redundancy,
                           "autoscale": result.autoscale, "peak_hours_per_day": result.peak_hours_per_day,
                           "self_hosted": result.self_hosted, "apis": result.apis,
                           "rejected": result.rejected, "configurations_tried": result.configurations_tried},
                          indent=1))
        return
    spares = f", plus {result.redundancy} spare{'s' if result.redundancy != 1 else ''}" if result.redundancy else ""
    sized = (f"a peak of {result.peak_to_average:g}x the average" if result.peak_to_average != 1
             else "the average rate (--peak-to-average for a busier peak)")
    scaled = (f"; rented replicas follow the day ({result.peak_hours_per_day:g} hours at the peak)"
              if result.autoscale else "")
    click.echo(f"Load: {result.requests_per_month:,.0f} requests a month "
               f"({options['input_tokens']:,} in / {options['output_tokens']:,} out tokens each); replicas sized "
               f"for {sized}{spares}{scaled}\n")
    for model in dict.fromkeys(m for m in [r["model"] for r in result.self_hosted]):
        rows = [dict(r, breakeven=None) for r in result.self_hosted if r["model"] == model][:top]
        click.echo(f"Self-hosted {model}, cheapest configuration per hardware ("
                   + ("autoscaled: replicas at the peak, and paid for on average" if result.autoscale
                      else "always-on, 730 h a month") + "):")
        percentiles = any(options.get(k) is not None for k in PERCENTILE_TARGETS)
        click.echo(table(rows, [
            ("hardware", "hardware"), ("gpus", "GPUs"), ("layout", "layout"), ("batch", "batch"),
            ("replicas", "replicas")]
            + ([("average_replicas", "average")] if result.autoscale else []) + [
            ("ttft_s", "TTFT s"), ("tpot_s", "TPOT s"), ("latency_s", "latency s")]
            + ([("utilization", "load cap"), ("ttft_at_rate_p90_s", "TTFT p90 s"), ("ttft_at_rate_p99_s", "TTFT p99 s"),
                ("tpot_at_rate_p90_s", "TPOT p90 s"), ("tpot_at_rate_p99_s", "TPOT p99 s")] if percentiles else [])
            + [("monthly_usd", "USD/month"), ("usd_per_1k_requests", "USD/1k requests")]))
        if percentiles:
            click.echo("Percentiles at the peak, requests arriving at random at each serving replica (M/M/c queue, "
                       "c = batch); load cap: the share of what a replica serves it is loaded to at most.")
        click.echo("")
        tiers = [dict(hardware=r["hardware"], **{w: r["monthly_usd_by_pricing"].get(w) for w in PLAN_PRICINGS})
                 for r in rows]
        click.echo(f"The same configurations of {model}, USD a month by how the GPU-hour is paid for (the catalog's "
                   "default published price of each tier; owned: purchase, power and upkeep; blank: no price):")
        click.echo(table(tiers, [("hardware", "hardware")] + [(w, w) for w in PLAN_PRICINGS]))
        click.echo("")
    if not result.open_models:
        click.echo("Self-hosted: none of the models given is open-weight. Add one to compare, e.g. "
                   "--model llama-3.1-8b.\n")
    elif not result.self_hosted:
        click.echo("Self-hosted: no hardware fits the model and meets the targets.\n")
    if result.rejected:
        click.echo("Not shown: " + "; ".join(f"{hw} ({why})" for hw, why in sorted(result.rejected.items())) + "\n")
    if result.apis:
        best = result.self_hosted[0] if result.self_hosted else None
        click.echo("APIs for the same traffic" + (
            f" (break-even: the monthly requests at which {best['model']} on {best['hardware']} x {best['gpus']} "
            f"({best['layout']}), "
            "with replicas for the peak plus the spares, first costs what the API does):" if best else ":"))
        click.echo(table(result.apis, [("api_model", "API model"), ("usd_per_1k_requests", "USD/1k requests"),
                                       ("monthly_usd", "USD/month"),
                                       ("breakeven_requests_per_month", "break-even requests/month"),
                                       ("cheaper", "cheaper here")]))
    if best_line := (result.self_hosted[0] if result.self_hosted else None):
        click.echo(f"\nCheapest self-hosted: {best_line['model']} on {best_line['hardware']} x {best_line['gpus']} "
                   f"({best_line['layout']}; {best_line['replicas']} replica{'s' if best_line['replicas'] != 1 else ''}), "
                   f"{money(best_line['monthly_usd'], 2)} a month.")


@main.command()
@click.option("--out", "out_path", default="quote.xlsx", show_default=True, metavar="PATH",
              help="Where to write the workbook (.xlsx).")
@click.option("--scenarios", "scenarios_csv", metavar="CSV", help="Scenarios to quote, one per row (columns as the "
              "estimate options: model, hardware, gpus, precision, engine, input_tokens, output_tokens, batch, "
              "requests_per_month, ..., and a free-text scenario label).")
@click.option("--models", "models", multiple=True, help="Without --scenarios: quote these models (repeatable).")
@click.option("--hardware", "hardware", multiple=True, help="Without --scenarios: on these devices (repeatable).")
@click.option("--title", default="LLM inference quote", show_default=True)
@click.option("--client", default="", help="Client named on the cover.")
@click.option("--prepared-by", default="", help="Author named on the cover.")
@click.option("--template", "template", metavar="XLSX", help="Your restyled copy of templates/quote.xlsx.")
@click.option("--with-functions", is_flag=True, help="Add a sheet of live =LLM_...() examples (needs the xlwings "
              "add-in in Windows Excel to compute).")
@click.option("--force", is_flag=True, help="Replace an existing file.")
@DECIMAL_OPTION
@CATALOG_OPTION
def build(out_path: str, scenarios_csv: str | None, models: tuple[str, ...], hardware: tuple[str, ...], title: str,
          client: str, prepared_by: str, template: str | None, with_functions: bool, force: bool,
          decimal: str | None, catalog_paths: tuple[str, ...]) -> None:
    """Write the quote workbook: live Excel formulas, no add-in needed."""
    from ..catalogs.loader import load_catalog
    from ..errors import InvalidValueError
    from ..files import check_writable, regular_file
    from ..workbook.quote import scenarios_from_csv, scenarios_from_lists
    from ..workbook.build import DEFAULT_SCENARIOS, build_workbook, save_atomically

    for option, text in (("--title", title), ("--client", client), ("--prepared-by", prepared_by)):
        _check_text(option, text)
    if scenarios_csv:
        regular_file(scenarios_csv, "Scenarios file")
    if template:
        regular_file(template, "Template")
    _outputs_apart([("--out", out_path)], [("--scenarios", scenarios_csv), ("--template", template)], catalog_paths)
    check_writable(out_path, probe=True)
    cat = load_catalog(catalog_paths)
    problems: list[str] = []
    if scenarios_csv:
        rows, problems = scenarios_from_csv(scenarios_csv, cat, decimal=decimal)
    elif models:
        rows, problems = scenarios_from_lists(models, hardware, cat)
    else:
        rows = None
    if rows is not None and not rows:
        source = f"'{scenarios_csv}'" if scenarios_csv else "--models/--hardware"
        first = problems[0].rstrip(".") if problems else "it has no rows"
        more = f" (and {len(problems) - 1:,} more)" if len(problems) > 1 else ""
        fix = (f"`llmcalc-xl fill {scenarios_csv}` lists each row's error" if scenarios_csv
               else "`llmcalc-xl catalog models` lists the ids")
        raise InvalidValueError(f"No scenario of {source} could be built; {first}{more}. Fix them ({fix}) and "
                                "build again.")
    wb = build_workbook(rows, catalog=cat, title=title, client=client, prepared_by=prepared_by, template=template,
                        with_functions=with_functions)
    path = save_atomically(wb, out_path, force=force)
    n = len(rows) if rows is not None else len(DEFAULT_SCENARIOS)
    click.echo(f"Wrote {path} ({n} scenario{'s' if n != 1 else ''}).")
    if scenarios_csv:
        from pathlib import Path

        from ..workbook import formulas as F
        from ..scenario_csv import header, unused_columns
        unused = unused_columns(header(Path(scenarios_csv))[0], F.INPUT_KEYS)
        if unused:
            click.echo(f"Warning: columns not used: {unused}. Only columns named as an option are read.", err=True)
    for problem in problems:
        click.echo(safe_line(f"Skipped {problem}"), err=True)


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--template", "template", metavar="XLSX", help="Rebuild with this template (default: the shipped one).")
@click.option("--force", is_flag=True, help="Refresh even if the file holds content a rebuild would drop.")
@CATALOG_OPTION
def refresh(workbook: str, template: str | None, force: bool, catalog_paths: tuple[str, ...]) -> None:
    """Rebuild a quote with today's catalog and formulas, keeping everything you typed."""
    from ..workbook.refresh import refresh as run

    report = run(workbook, catalog=catalog_paths, template=template, force=force)
    click.echo(f"Refreshed {report.path} ({report.scenarios} scenario{'s' if report.scenarios != 1 else ''}); "
               f"the previous version is in {report.backup}.")
    for line in report.carried:
        click.echo(safe_line(f"Kept {line}"))
    for line in report.not_carried:
        click.echo(safe_line(f"Not carried: {line}"), err=True)


@main.command()
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", metavar="CSV", help="Where to write the CSV (default: print it).")
def export(workbook: str, out_path: str | None) -> None:
    """Write a quote workbook's Scenarios sheet as CSV (the values last calculated)."""
    from ..workbook.export import scenario_values, write_csv
    from ..files import check_writable

    _outputs_apart([("--out", out_path)], [("the workbook", workbook)])
    if out_path:
        check_writable(out_path, probe=True)
    text = write_csv(scenario_values(workbook), out_path)
    if text is not None:
        click.echo(text, nl=False)
    else:
        click.echo(f"Wrote {out_path}", err=True)


@main.command()
@click.argument("scenarios", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", metavar="RESULTS", help="Results file, .csv or .xlsx (default: SCENARIOS "
              "with .results.csv).")
@click.option("--workbook", "workbook", metavar="QUOTE.xlsx", help="Also put the good rows' inputs into this "
              "quote's Scenarios sheet (built if it does not exist; else refreshed keeping your edits, rows whose "
              "Scenario label matches updated, the others added).")
@click.option("--replace", is_flag=True, help="With --workbook: replace the quote's scenarios instead of adding.")
@click.option("--strict", is_flag=True, help="Exit with code 1 when any row failed (after writing everything).")
@click.option("--compare-api-model", metavar="ID", help="Also give each row's horizon forecast against this API "
              "model: horizon_cost_usd, horizon_cost_api_usd, npv_usd, npv_api_usd, crossover_month.")
@DECIMAL_OPTION
@CATALOG_OPTION
def fill(scenarios: str, out_path: str | None, workbook: str | None, replace: bool, strict: bool,
         decimal: str | None, compare_api_model: str | None,
         catalog_paths: tuple[str, ...]) -> None:
    """Price every row of a scenarios CSV; bad rows are kept with their message."""
    from pathlib import Path

    from ..catalogs.loader import load_catalog
    from ..files import check_not_open, check_writable, regular_file
    from ..batch.fill import count_rows, fill_file
    from ..workbook.refresh import backup_path

    if replace and not workbook:
        raise click.UsageError("--replace needs --workbook QUOTE.xlsx: it replaces that quote's scenarios.")
    src = regular_file(scenarios, "Scenarios file")
    out = Path(out_path) if out_path else src.with_name(src.stem + ".results.csv")
    outputs: list[tuple[str, Any]] = [("--out", out)]
    if workbook:
        outputs += [("--workbook", workbook)]
        if Path(workbook).name:
            outputs += [("the workbook's backup", backup_path(workbook))]
    _outputs_apart(outputs, [("the scenarios file", scenarios)], catalog_paths)
    check_writable(out, probe=True)
    if workbook:  # refreshed after pricing: refuse now what would be refused then
        check_writable(workbook, probe=True)
        if Path(workbook).exists():
            regular_file(workbook, "Workbook")
            check_not_open(workbook)
    cat = load_catalog(catalog_paths)
    if compare_api_model is not None:
        compare_api_model = _compared_api(cat, compare_api_model)
    warn = lambda line: click.echo(safe_line(line), err=True)  # noqa: E731  (column names from the file)
    if sys.stderr.isatty() and Path(scenarios).is_file() and Path(scenarios).stat().st_size > 5_000_000:
        with click.progressbar(length=count_rows(scenarios), label="Pricing scenarios", file=sys.stderr) as bar:
            n, failed = fill_file(scenarios, out, cat, progress=bar.update, decimal=decimal, warn=warn,
                                  compare_api_model=compare_api_model)
    else:
        n, failed = fill_file(scenarios, out, cat, decimal=decimal, warn=warn, compare_api_model=compare_api_model)
    click.echo(f"Priced {n:,} row{'s' if n != 1 else ''}: {n - failed:,} ok, {failed:,} with an error "
               f"(see the error column). Wrote {out}.", err=True)
    if workbook:
        from ..workbook.quote import put_into_workbook
        click.echo(put_into_workbook(workbook, scenarios, cat, replace=replace, decimal=decimal), err=True)
    if strict and failed:
        sys.exit(1)


@main.group()
def excel() -> None:
    """Set up the Excel functions (=LLM_COST() and the rest) for this installation."""


@excel.command()
@click.option("--write", "write_to", is_flag=False, flag_value="default", default=None, metavar="[PATH]",
              help="Merge the settings into xlwings.conf (default ~/.xlwings/xlwings.conf); other settings kept, "
                   "a .bak copy made.")
@click.option("--catalog", "catalog_path", metavar="PATH", help="Your catalog file, for the functions to use.")
def setup(write_to: str | None, catalog_path: str | None) -> None:
    """Print (or write) the xlwings settings that point Excel at these functions."""
    from pathlib import Path

    from ..catalogs.loader import load_catalog
    from ..excel.setup import USER_CONFIG, backup_path, instructions, settings, write_config

    if write_to and catalog_path:
        target = USER_CONFIG if write_to == "default" else Path(write_to)
        _outputs_apart([("--write", target), ("its backup", backup_path(target))], [("--catalog", catalog_path)])
    if catalog_path:
        load_catalog([catalog_path])  # a bad file is reported now, not in every cell later
        catalog_path = str(Path(catalog_path).resolve())
    values = settings()
    if write_to:
        path = write_config(USER_CONFIG if write_to == "default" else Path(write_to), values)
        click.echo(f"Wrote the llmcalc-xl settings into {path}")
    click.echo(instructions(values, catalog_path))


if __name__ == "__main__":
    main()


# --- over time and sensitivity -----------------------------------------------------------------------

COMPARE_API_OPTION = click.option(
    "--compare-api-model", default="gpt-4o", show_default=True, metavar="ID",
    help="The API model the same traffic is priced on (the quote's compare_api_model).")
QUOTE_DATE_OPTION = click.option("--quote-date", metavar="YYYY-MM-DD",
                                 help="Price API models as on this day (default: today).")


@main.command()
@scenario_options(model=dict(required=True))
@COMPARE_API_OPTION
@CATALOG_OPTION
@QUOTE_DATE_OPTION
@click.option("--months", "show_months", is_flag=True, help="Also print each month: requests, replicas, costs.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures and every month as JSON.")
def horizon(model: str, hardware: str | None, compare_api_model: str, catalog_paths: tuple[str, ...],
            quote_date: str | None, show_months: bool, as_json: bool, **options: Any) -> None:
    """The scenario over its horizon next to the same traffic on an API: totals, NPVs, crossover month
    (the quote's Forecast sheet)."""
    from ..catalogs.loader import load_catalog
    from ..core.plan import HORIZON_KEYS, horizon_many
    from ..errors import InvalidValueError
    from .report import horizon_text

    cat = load_catalog(catalog_paths)
    given = {k: v for k, v in options.items() if v is not None}
    compare_api_model = _compared_api(cat, compare_api_model)
    r = horizon_many(compare_api_model, model, hardware, catalog=cat, quote_date=quote_date, series=True, **given)
    if r["error"][0] is not None:
        raise InvalidValueError(r["error"][0])
    figures: dict[str, Any] = {"compare_api_model": cat.model(compare_api_model).id}
    figures.update({k: float(r[k][0]) for k in HORIZON_KEYS})
    series = ("requests_per_month", "replicas", "monthly_usd", "monthly_api_usd", "cumulative_usd",
              "cumulative_api_usd")
    months = [dict(month=m + 1, **{k: float(r[k][0, m]) for k in series})
              for m in range(r["monthly_usd"].shape[1]) if not math.isnan(r["monthly_usd"][0, m])]
    if as_json:
        click.echo(_dumps(dict(figures, months=months)))
        return
    click.echo(horizon_text(figures, months, given, show_months))


@main.command()
@scenario_options(model=dict(required=False))
@click.option("--scenarios", "scenarios_csv", metavar="CSV", help="The total over these scenarios (columns as "
              "`fill` reads them), as the quote's Sensitivity sheet totals its rows, instead of one scenario.")
@click.option("--share", type=float, default=0.2, show_default=True,
              help="How far each driver moves down and up (0.2: 20%; the quote's sensitivity_share).")
@DECIMAL_OPTION
@CATALOG_OPTION
@QUOTE_DATE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print each driver's figures as JSON.")
def sensitivity(model: str | None, hardware: str | None, scenarios_csv: str | None, share: float,
                decimal: str | None, catalog_paths: tuple[str, ...], quote_date: str | None, as_json: bool,
                **options: Any) -> None:
    """The monthly cost with each driver (GPU price, throughput, requests, tokens, utilisation, API price,
    capex, depreciation years, electricity) moved down and up, the others as given (the quote's
    Sensitivity sheet)."""
    from ..catalogs.loader import load_catalog
    from ..core import forecast
    from ..core.plan import sensitivity_many, sensitivity_total
    from ..errors import InvalidValueError
    from .report import sensitivity_text

    cat = load_catalog(catalog_paths)
    given = {k: v for k, v in options.items() if v is not None}
    if scenarios_csv:
        if model or given or hardware:
            raise InvalidValueError("Give --scenarios or one scenario's options (--model ...), not both.")
        from ..workbook import formulas as F
        from ..workbook.quote import scenarios_from_csv

        rows, problems = scenarios_from_csv(scenarios_csv, cat, decimal)
        if problems:
            raise InvalidValueError(f"{len(problems)} scenario row(s) cannot be priced; the first: {problems[0]}")
        cols = {k: [r.get(k) for r in rows] for k in F.INPUT_KEYS if k != "scenario"}
        result = sensitivity_many(cols.pop("model"), cols.pop("hardware"), share=share, catalog=cat,
                                  quote_date=quote_date, **cols)
        figures = sensitivity_total(result)
        counted = sum(not math.isnan(x) for x in result["base_usd"].tolist())
        what = f"the total of {counted} of {len(rows)} scenarios (those with a monthly cost)"
    else:
        if not model:
            raise InvalidValueError("Give --model (and the scenario's options), or --scenarios CSV.")
        result = sensitivity_many(model, hardware, share=share, catalog=cat, quote_date=quote_date, **given)
        if result["error"][0] is not None:
            raise InvalidValueError(result["error"][0])
        figures = {k: float(v[0]) for k, v in result.items() if k != "error"}
        what = "the scenario"
    drivers = [dict(driver=key, label=label, down_usd=figures[f"{key}_down_usd"], base_usd=figures["base_usd"],
                    up_usd=figures[f"{key}_up_usd"]) for key, label in forecast.DRIVERS]
    if as_json:
        click.echo(_dumps({"share": share, "base_usd": figures["base_usd"], "drivers": drivers}))
        return
    click.echo(sensitivity_text(drivers, share, what))
