"""Catalog tools: per-group provenance of overrides, `catalog check`, `catalog import-prices`, and the
Cover's catalog date and stale count."""

import datetime as dt
import json
import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from llmcalc_xl import CatalogError, estimate, load_catalog
from llmcalc_xl.catalogs.check import find
from llmcalc_xl.catalogs.info import info
from llmcalc_xl.catalogs.litellm import import_prices, prices_of
from llmcalc_xl.cli.main import main

DATA = Path(__file__).parent / "data"
EXCERPT = DATA / "litellm_prices_excerpt.json"


def run(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def _file(tmp_path, text, name="ours.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- provenance per group ---------------------------------------------------------------------------

PRICE_ONLY = '''
    [[hardware]]
    id = "h100-sxm"
    price_usd_per_hour = 1.85
    price_source = "contract 2026-10"
    price_as_of = "2026-10-01"
'''


def test_a_price_override_keeps_the_specs_source_and_drops_the_catalogs_seller(tmp_path, cat):
    path = _file(tmp_path, PRICE_ONLY)
    shipped, ours = cat.hardware("h100-sxm"), load_catalog([path]).hardware("h100-sxm")
    assert (ours.price_usd_per_hour, ours.price_source, ours.price_as_of) == (1.85, "contract 2026-10", "2026-10-01")
    assert (ours.source, ours.as_of, ours.memory_gib) == (shipped.source, shipped.as_of, shipped.memory_gib)
    assert shipped.price_provider == "RunPod" and ours.price_provider == ""  # RunPod does not sell at our price
    prov = {p.group: p for p in load_catalog([path]).provenance(ours)}
    assert (prov["specs"].source, prov["specs"].file) == (shipped.source, "shipped")
    assert (prov["price"].source, prov["price"].as_of, prov["price"].file) == ("contract 2026-10", "2026-10-01",
                                                                                str(path.resolve()))


def test_a_price_override_names_its_seller_when_it_gives_one(tmp_path):
    path = _file(tmp_path, PRICE_ONLY + 'price_provider = "our reserved contract"\n')
    assert load_catalog([path]).hardware("h100-sxm").price_provider == "our reserved contract"


@pytest.mark.parametrize("text, message", [
    ('[[hardware]]\nid = "h100-sxm"\nprice_usd_per_hour = 1.0\n',
     "overriding 'h100-sxm' sets price_usd_per_hour, which needs its own 'price_source'. Say where the new price comes "
     "from and as of when, e.g. price_source = \"our contract, 2026\"."),
    ('[[hardware]]\nid = "h100-sxm"\nprice_usd_per_hour = 1.0\nprice_source = "contract"\n',
     "overriding 'h100-sxm' sets price_usd_per_hour, which needs its own 'price_as_of'. Say where the new price comes "
     "from and as of when, e.g. price_as_of = \"2026-01-31\"."),
    # a source for the price is not one for the specs
    ('[[hardware]]\nid = "h100-sxm"\nmemory_gib = 79.6\nprice_source = "contract"\nprice_as_of = "2026-10-01"\n',
     "overriding 'h100-sxm' sets memory_gib, which needs its own 'source'. Say where the new specs come from and as "
     "of when, e.g. source = \"our contract, 2026\"."),
    ('[[api_models]]\nid = "gpt-4o"\ninput_usd_per_mtok = 2.0\nsource = "contract"\nas_of = "2026-10-01"\n',
     "overriding 'gpt-4o' sets input_usd_per_mtok but not output_usd_per_mtok. A price from a new source is given "
     "whole (the catalog's output_usd_per_mtok comes from another source): give output_usd_per_mtok too."),
    ('[[api_models]]\nid = "gpt-4o"\ncontext_length = 64000\nsource = "contract"\nas_of = "2026-10-01"\n',
     "overriding 'gpt-4o' sets context_length, which needs its own 'specs_source'."),
    ('[[api_models]]\nid = "gpt-4o"\nttft_s = 0.3\nspeed_source = "our measurement"\n',
     "overriding 'gpt-4o' sets ttft_s, which needs its own 'speed_as_of'."),
])
def test_each_group_set_needs_its_own_source_and_date(tmp_path, text, message):
    path = _file(tmp_path, text, "bad.toml")
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert str(e.value).startswith(f"Catalog file '{path}', [[") and message in str(e.value)


def test_an_api_price_override_leaves_specs_and_speed_with_their_sources(tmp_path, cat):
    path = _file(tmp_path, '''
        [[api_models]]
        id = "gpt-4o"
        input_usd_per_mtok = 2.0
        output_usd_per_mtok = 8.0
        source = "our enterprise agreement EA-7"
        as_of = "2026-11-01"
    ''')
    shipped, ours = cat.model("gpt-4o"), load_catalog([path]).model("gpt-4o")
    assert (ours.input_usd_per_mtok, ours.output_usd_per_mtok) == (2.0, 8.0)
    # the whole price comes from the agreement: no list cache-read price beside it
    assert shipped.cached_input_usd_per_mtok == 1.25 and ours.cached_input_usd_per_mtok is None
    assert (ours.specs_source, ours.specs_as_of, ours.context_length) == (shipped.source, shipped.as_of,
                                                                         shipped.context_length)
    assert (ours.speed_source, ours.speed_as_of, ours.ttft_s) == (shipped.speed_source, shipped.speed_as_of,
                                                                 shipped.ttft_s)
    c = load_catalog([path])
    assert info(c, "gpt-4o", "price_source") == "our enterprise agreement EA-7"
    assert info(c, "gpt-4o", "price_as_of") == "2026-11-01"
    assert info(c, "gpt-4o", "specs_source") == shipped.source
    assert info(c, "gpt-4o", "price_file") == str(path.resolve()) and info(c, "gpt-4o", "specs_file") == "shipped"
    assert info(c, "h100-sxm", "specs_source") == c.hardware("h100-sxm").source


def test_an_override_of_names_only_needs_no_source(tmp_path, cat):
    path = _file(tmp_path, '[[hardware]]\nid = "h100-sxm"\naliases = ["our H100"]\nnotes = "the rack in Leeds"\n')
    ours = load_catalog([path]).hardware("h100-sxm")
    assert ours.aliases == ("our H100",) and ours.source == cat.hardware("h100-sxm").source


def test_a_source_and_date_alone_re_date_a_group_without_changing_it(tmp_path, cat):
    # a team that re-read the catalog's price page and found the same price says so
    path = _file(tmp_path, '[[hardware]]\nid = "t4"\nprice_source = "re-read Modal pricing page"\n'
                           'price_as_of = "2026-11-28"\n')
    ours, shipped = load_catalog([path]).hardware("t4"), cat.hardware("t4")
    assert (ours.price_usd_per_hour, ours.price_provider) == (shipped.price_usd_per_hour, shipped.price_provider)
    assert (ours.price_source, ours.price_as_of) == ("re-read Modal pricing page", "2026-11-28")
    assert ours.as_of == shipped.as_of


def test_the_listing_and_the_sources_sheet_show_each_groups_source(tmp_path):
    from llmcalc_xl.workbook.build import build_workbook

    path = _file(tmp_path, PRICE_ONLY)
    rows = json.loads(run("catalog", "hardware", "--catalog", path, "--json").output)
    h100 = next(r for r in rows if r["id"] == "h100-sxm")
    assert h100["provenance"]["price"] == {"source": "contract 2026-10", "as_of": "2026-10-01",
                                           "file": str(path.resolve())}
    assert h100["provenance"]["specs"]["file"] == "shipped"
    wb = build_workbook([dict(model="llama-3-8b", hardware="h100-sxm")], catalog=[path])
    sources = {(r[1], r[2]): r for r in wb["Sources"].iter_rows(min_row=4, values_only=True) if r[0] == "hardware"}
    assert sources[("h100-sxm", "price")][3:6] == ("contract 2026-10", "2026-10-01", str(path.resolve()))
    assert sources[("h100-sxm", "specs")][3:6] == (h100["source"], h100["as_of"], "catalog")


# --- catalog check ------------------------------------------------------------------------------------

ACME = '''
    [[api_models]]
    id = "acme-large"
    name = "Acme Large"
    provider = "Acme"
    input_usd_per_mtok = 1.0
    output_usd_per_mtok = 4.0
    source = "acme.example/pricing"
    as_of = "2026-08-01"

    [[api_models]]
    id = "acme-old"
    name = "Acme Old"
    provider = "Acme"
    input_usd_per_mtok = 3.0
    output_usd_per_mtok = 9.0
    retires = "2026-10-01"
    successor = "acme-large"
    source = "acme.example/pricing"
    as_of = "2026-01-10"

    [[api_models]]
    id = "acme-intro"
    name = "Acme Intro"
    provider = "Acme"
    input_usd_per_mtok = 0.5
    output_usd_per_mtok = 2.0
    source = "acme.example/pricing"
    as_of = "2026-11-20"

    [[api_models.prices]]
    effective_from = "2026-12-01"
    input_usd_per_mtok = 1.0
    output_usd_per_mtok = 4.0

    [[hardware]]
    id = "rack-gpu"
    name = "Rack GPU"
    kind = "gpu"
    memory_gib = 80
    bandwidth_gb_s = 2000
    price_usd_per_hour = 2.0
    price_provider = "Acme Cloud"
    price_source = "acme.example/gpu"
    price_as_of = "2026-09-15"
    source = "datasheet"
    as_of = "2024-01-01"
'''


@pytest.fixture
def only_user_entries(tmp_path, monkeypatch):
    """An empty shipped catalog, so that a check's summary counts the test's own entries alone."""
    from llmcalc_xl.catalogs import loader

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for name in loader.SHIPPED_FILES:
        (shipped / name).write_text("")
    monkeypatch.setattr(loader, "_shipped_dir", lambda: shipped)
    loader._load.cache_clear()
    yield
    loader._load.cache_clear()


def _acme(findings):
    return [(f.kind, f.id, f.text, f.failing) for f in findings if f.id.startswith(("acme", "rack"))]


def test_check_on_a_day_lists_retired_ended_and_stale(tmp_path):
    c = load_catalog([_file(tmp_path, ACME)])
    # on 2026-12-10 the 90-day limit is 2026-09-11: acme-large (2026-08-01) is 131 days old; the rack GPU's price
    # (2026-09-15) is 86 days old; acme-intro's introductory price ended on 2026-11-30
    assert _acme(find(c, dt.date(2026, 12, 10), 90)) == [
        ("retired", "acme-old", "retired 2026-10-01; successor acme-large", False),
        ("ended", "acme-intro", "the price of 2026-11-20 (input 0.5, output 2 USD per million tokens) ended; from "
                                "2026-12-01: input 1, output 4", True),
        ("stale", "acme-large", "price as of 2026-08-01 (131 days)", True),
    ]
    # 30 days later the device's price is 116 days old; a retired model is never stale
    assert ("stale", "rack-gpu") in [(f.kind, f.id) for f in find(c, dt.date(2027, 1, 9), 90)]
    # the day before: nothing ended, acme-old not yet retired (but its price of 2026-01-10 is stale)
    assert _acme(find(c, dt.date(2026, 9, 30), 300)) == []
    assert [f.kind for f in find(c, dt.date(2026, 9, 30), 90) if f.id == "acme-old"] == ["stale"]


def test_a_retired_model_fails_only_a_quote_that_uses_it(tmp_path):
    c = load_catalog([_file(tmp_path, ACME)])
    used = {f.id: f.failing for f in find(c, dt.date(2026, 11, 25), 90, used={"acme-old", "rack-gpu"})}
    assert used["acme-old"] is True and used["acme-large"] is False  # stale, but this quote does not use it


@pytest.mark.parametrize("args, code, last", [
    ([], 1, "2 problems (1 ended, 1 stale). Give newer prices in your own catalog file (--catalog), e.g. with "
            "`llmcalc-xl catalog import-prices`, or move the quote off retired models."),
    (["--max-age-days", "200"], 1, "1 problem (1 ended). Give newer prices in your own catalog file (--catalog), "
                                   "e.g. with `llmcalc-xl catalog import-prices`, or move the quote off retired "
                                   "models."),
])
def test_check_exit_codes_and_summary(tmp_path, only_user_entries, args, code, last):
    path = _file(tmp_path, ACME)
    r = run("catalog", "check", "--on", "2026-12-10", "--catalog", path, *args)
    assert r.exit_code == code
    lines = r.output.splitlines()
    assert lines[-1] == last
    assert f"  acme-old  retired 2026-10-01; successor acme-large [{path.resolve()}]" in lines


def test_check_with_scenarios_fails_on_a_retired_model_they_use(tmp_path):
    path = _file(tmp_path, ACME)
    csv = tmp_path / "s.csv"
    csv.write_text("scenario,model,input_tokens,output_tokens\nold,Acme Old,100,10\n")
    r = run("catalog", "check", "--on", "2026-11-25", "--catalog", path, "--scenarios", csv)
    assert r.exit_code == 1
    assert any(line.endswith("USED BY THE QUOTE") and "acme-old" in line for line in r.output.splitlines())
    assert r.output.splitlines()[-1].startswith("1 problem in the quote (1 retired).")
    csv.write_text("scenario,model,input_tokens,output_tokens\nnew,acme-large,100,10\n")
    r = run("catalog", "check", "--on", "2026-10-20", "--catalog", path, "--scenarios", csv)
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[-1] == "OK: no stale or ended price, and no retired model, in the quote."


def test_check_of_a_built_quote_counts_the_model_it_compares_with(tmp_path):
    path = _file(tmp_path, ACME)
    quote = tmp_path / "q.xlsx"
    assert run("build", "--catalog", path, "--models", "acme-large", "--out", quote).exit_code == 0
    r = run("catalog", "check", "--on", "2026-12-10", "--catalog", path, "--workbook", quote, "--json")
    report = json.loads(r.output)
    used = {f["id"] for f in report["findings"] if f["used"]}
    assert "acme-large" in used and "acme-old" not in used
    assert ("gpt-4o" in used) == any(f["id"] == "gpt-4o" for f in report["findings"])  # compare_api_model


@pytest.mark.parametrize("args, message", [
    (["--on", "30/11/2026"], "Error: --on '30/11/2026' is not a date. Give it as YYYY-MM-DD, e.g. 2026-11-30.\n"),
    (["--max-age-days", "-1"], "Invalid value for '--max-age-days': -1 is not in the range x>=0."),
    (["--workbook", "nope.xlsx"], "Error: Workbook 'nope.xlsx' does not exist. Check the path.\n"),
])
def test_check_usage_errors_are_one_line(args, message):
    r = run("catalog", "check", *args)
    assert r.exit_code == 2
    assert message in r.output and "Traceback" not in r.output


# The shipped catalog on the day it was researched (docs/research/catalog_2026.md): these prices were the
# newest any stored source stated, and are older than 90 days. Re-read a source and date it, or leave the
# entry here: the list may shrink, never grow, and no price of the shipped catalog may have ended.
KNOWN_STALE_ON_2026_11_30 = {
    "api_models": "",  # refreshed from genai-prices 0.2.3 (OpenAI, Google: 2026-10-12 / -14; Mistral: 2026-10-29)
    "hardware": "",  # a10g: its June 2026 AWS price left out (no newer dated source), see hardware.toml
}


def test_the_shipped_catalog_on_its_date_has_no_new_stale_price_and_no_ended_one(cat):
    findings = find(cat, dt.date(2026, 11, 30), 90)
    for catalog, ids in KNOWN_STALE_ON_2026_11_30.items():
        assert {f.id for f in findings if f.kind == "stale" and f.catalog == catalog} <= set(ids.split())
    assert [f.id for f in findings if f.kind == "ended"] == []
    # retired models are kept for old quotes, listed, and fail nothing by themselves
    retired = [f for f in findings if f.kind == "retired"]
    assert {"gpt-4", "o4-mini"} <= {f.id for f in retired} and not any(f.failing for f in retired)
    # a retired model's price is not checked for age: no new quote can buy it (claude-3.5-haiku's price
    # is of 2025-08-05, Devstral 2's and Magistral Medium's of 2026-08-21, all older than 90 days)
    assert {"claude-3.5-haiku", "devstral-2-api", "magistral-medium", "mistral-medium-3"} <= {f.id for f in retired}
    assert not {"claude-3.5-haiku", "devstral-2-api", "magistral-medium"} & {f.id for f in findings if f.kind == "stale"}


@pytest.mark.parametrize("day", ["2026-12-01", "2026-12-15"])
def test_the_shipped_catalog_stays_current_into_december(cat, day):
    # Gemini 4 Argon's and Carbon's introductory prices end on 2026-11-30; the standard price that follows was
    # published in advance and is their top-level price, so nothing has ended. The oldest live price is of
    # 2026-09-20 (GPU-hours from Lambda, Akash, CoreWeave): 86 days old on 2026-12-15.
    findings = find(cat, dt.date.fromisoformat(day), 90)
    assert [(f.kind, f.id) for f in findings if f.kind != "retired"] == []


def test_an_introductory_price_read_with_the_price_after_it_does_not_end(tmp_path):
    path = _file(tmp_path, """
        [[api_models]]
        id = "acme-new"
        name = "Acme New"
        provider = "Acme"
        input_usd_per_mtok = 4.0
        output_usd_per_mtok = 20.0
        source = "acme.example/pricing: $2 / $10 through November, then $4 / $20"
        as_of = "2026-11-05"

        [[api_models.prices]]
        effective_until = "2026-11-30"
        input_usd_per_mtok = 2.0
        output_usd_per_mtok = 10.0
    """)
    c = load_catalog([path])
    for day in (dt.date(2026, 11, 20), dt.date(2026, 12, 1), dt.date(2027, 1, 31)):
        assert _acme(find(c, day, 90)) == []
    assert _acme(find(c, dt.date(2027, 2, 4), 90)) == [("stale", "acme-new", "price as of 2026-11-05 (91 days)", True)]


# --- catalog import-prices --------------------------------------------------------------------------------

def test_litellm_prices_per_token_become_usd_per_million_tokens():
    data = json.loads(EXCERPT.read_text())
    # gpt-4o: 2.5e-06 / 1.25e-06 cached / 1e-05 per token; Batch 1.25e-06 / 5e-06; priority 4.25e-06 / 1.7e-05
    assert prices_of(data["gpt-4o"]) == {
        "input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0, "cached_input_usd_per_mtok": 1.25,
        "batch_input_usd_per_mtok": 1.25, "batch_output_usd_per_mtok": 5.0,
        "priority_input_usd_per_mtok": 4.25, "priority_output_usd_per_mtok": 17.0}
    # gemini-2.5-pro: above 200k tokens 2.5e-06 in, 1.5e-05 out, 2.5e-07 cache read
    assert prices_of(data["gemini-2.5-pro"]) == {
        "input_usd_per_mtok": 1.25, "output_usd_per_mtok": 10.0, "cached_input_usd_per_mtok": 0.125,
        "long_context_threshold_tokens": 200000, "long_input_usd_per_mtok": 2.5, "long_output_usd_per_mtok": 15.0,
        "long_cached_input_usd_per_mtok": 0.25}
    # claude-sonnet-4-6: the 5-minute cache write 3.75e-06
    assert prices_of(data["claude-sonnet-4-6"])["cache_write_usd_per_mtok"] == 3.75


def test_import_keeps_own_provider_prices_of_catalog_models(cat):
    data = json.loads(EXCERPT.read_text())
    result = import_prices(data, cat, "2026-11-30", "excerpt.json")
    assert [e["id"] for e in result.entries] == ["claude-sonnet-4.6", "gemini-2.5-pro", "gemini-3.5-flash",
                                                 "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"]
    gpt4o = next(e for e in result.entries if e["id"] == "gpt-4o")
    assert "'gpt-4o' from litellm_provider openai" in gpt4o["source"]  # the catalog id, not a dated snapshot
    # claude-sonnet-4-5, gpt-4o-2024-05-13 (not an alias: another price), azure/gpt-5.2, the Bedrock Haiku
    assert result.not_in_catalog == 4
    assert result.other_providers == 0 and result.disagreeing == []


def test_import_skips_resellers_and_names_that_disagree(cat):
    gpt4o = {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06,
             "output_cost_per_token": 1e-05}
    data = {"azure/gpt-4o": dict(gpt4o, litellm_provider="azure"),
            "openrouter/openai/gpt-4o-mini": dict(gpt4o, litellm_provider="openrouter"),
            "gpt-4o-2024-08-06": gpt4o, "gpt-4o-2024-11-20": dict(gpt4o, output_cost_per_token=1.2e-05)}
    result = import_prices(data, cat, "2026-11-30", "x.json")
    assert result.other_providers == 2
    assert result.disagreeing == ["gpt-4o (gpt-4o-2024-08-06, gpt-4o-2024-11-20)"] and result.entries == []


def test_import_keeps_a_catalog_price_newer_than_the_file(cat):
    data = json.loads(EXCERPT.read_text())
    result = import_prices(data, cat, "2026-07-09", "excerpt.json")
    assert {"gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "gemini-3.5-flash"} <= set(result.newer_in_catalog)
    assert "gpt-4o" not in [e["id"] for e in result.entries]


def test_import_prices_writes_a_catalog_every_surface_uses(tmp_path):
    out = tmp_path / "prices.toml"
    r = run("catalog", "import-prices", EXCERPT, "--as-of", "2026-11-30", "--out", out)
    assert r.exit_code == 0, r.output
    assert f"Wrote {out}: 6 prices as of 2026-11-30" in r.output
    c = load_catalog([out])
    sonnet = c.model("claude-sonnet-4.6")
    assert (sonnet.cache_write_usd_per_mtok, sonnet.as_of) == (3.75, "2026-11-30")
    assert sonnet.specs_source == load_catalog(()).model("claude-sonnet-4.6").specs_source
    # 1,000 input and 500 output tokens at $3 / $15 per million
    assert estimate("claude-sonnet-4.6", input_tokens=1000, output_tokens=500, catalog=[out]).token_cost_usd \
        == pytest.approx((1000 * 3 + 500 * 15) / 1e6, rel=1e-12)
    assert run("catalog", "check", "--on", "2026-11-30", "--catalog", out, "--json").exit_code in (0, 1)
    stale = json.loads(run("catalog", "check", "--on", "2026-11-30", "--catalog", out, "--json").output)["findings"]
    assert not any(f["id"] in ("gpt-4o", "claude-sonnet-4.6") for f in stale)


def test_import_prices_dates_the_file_by_its_modification_day(tmp_path, monkeypatch):
    src = tmp_path / "model_prices_and_context_window.json"
    src.write_bytes(EXCERPT.read_bytes())
    day = dt.datetime(2026, 11, 28, 12, 0).timestamp()
    os.utime(src, (day, day))
    monkeypatch.chdir(tmp_path)
    r = run("catalog", "import-prices", src)
    assert r.exit_code == 0, r.output
    assert 'as_of = "2026-11-28"' in (tmp_path / "litellm-prices-2026-11-28.toml").read_text()


@pytest.mark.parametrize("setup, args, message", [
    (None, ["nope.json"], "Error: LiteLLM price file 'nope.json' does not exist. Check the path.\n"),
    ("not json", ["in.json"], "Error: LiteLLM price file 'in.json' is not JSON (Expecting value: line 1 column 1 "
                              "(char 0)). Give LiteLLM's model_prices_and_context_window.json as downloaded from "
                              "github.com/BerriAI/litellm.\n"),
    ("[1, 2]", ["in.json", "--as-of", "2026-11-30"], "Error: LiteLLM price file 'in.json' holds a JSON list, not an "
                                                     "object of model names. Give LiteLLM's "
                                                     "model_prices_and_context_window.json.\n"),
    ("{}", ["in.json", "--as-of", "2026-11-30"], "Error: LiteLLM price file 'in.json' prices no API model of the "
                                                 "catalog as its own provider sells it, as of 2026-11-30 or later "
                                                 "than the catalog. Nothing was written.\n"),
    ("{}", ["in.json", "--as-of", "yesterday"], "Error: --as-of 'yesterday' is not a date. Give it as YYYY-MM-DD, "
                                                "e.g. 2026-11-30.\n"),
    ("{}", ["in.json", "--as-of", "2026-11-30", "--out", "in.json"],
     "Error: --out 'in.json' is the same file as the LiteLLM price file 'in.json': writing it would destroy it. "
     "Choose another --out.\n"),
])
def test_import_prices_errors_are_one_line(tmp_path, monkeypatch, setup, args, message):
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        Path("in.json").write_text(setup)
    r = run("catalog", "import-prices", *args)
    assert r.exit_code == 2
    assert r.output == message
    assert list(tmp_path.glob("*.toml")) == []


def test_import_prices_does_not_replace_a_file_unless_forced(tmp_path):
    out = tmp_path / "p.toml"
    out.write_text("# mine\n")
    r = run("catalog", "import-prices", EXCERPT, "--as-of", "2026-11-30", "--out", out)
    assert r.exit_code == 2
    assert r.output == f"Error: '{out}' already exists. Add --force to replace it, or choose another --out.\n"
    assert out.read_text() == "# mine\n"
    assert run("catalog", "import-prices", EXCERPT, "--as-of", "2026-11-30", "--out", out, "--force").exit_code == 0
    assert "[[api_models]]" in out.read_text()


# --- the Cover ------------------------------------------------------------------------------------------

def test_cover_shows_the_catalog_date_and_counts_the_stale_entries_used(tmp_path):
    from llmcalc_xl.workbook.build import build_workbook

    # the compared API model gets a fresh price here, so the count depends on the rows alone
    path = _file(tmp_path, ACME + '''
        [[api_models]]
        id = "gpt-4o"
        input_usd_per_mtok = 2.5
        output_usd_per_mtok = 10.0
        source = "test: a fresh price"
        as_of = "2026-12-31"
    ''')
    rows = [dict(scenario="retired", model="acme-old", input_tokens=100, output_tokens=10),
            dict(scenario="stale", model="Acme Large", input_tokens=100, output_tokens=10),
            dict(scenario="fresh", model="gpt-4o", input_tokens=100, output_tokens=10),
            dict(scenario="stale again", model="acme-large", hardware="rack-gpu")]
    wb = build_workbook(rows, catalog=[path], as_of=dt.date(2027, 1, 9))
    cover = wb["Cover"]
    assert cover["B8"].value == dt.date(2026, 12, 31)  # the newest date of any number in the catalog
    assert cover["A10"].value == "Stale catalog entries" and cover["B10"].value.startswith("=")
    out = tmp_path / "q.xlsx"
    from llmcalc_xl.workbook.build import save_atomically
    save_atomically(wb, out)
    from openpyxl import load_workbook
    # 2027-01-09: acme-old retired; acme-large (2026-08-01) and the rack GPU (2026-09-15) older than 90 days
    assert load_workbook(out, data_only=True)["Cover"]["B10"].value == 3
