"""API catalog: lifecycle dates, successors, extra prices and price schedules; the shipped entries."""

import datetime as dt
import re
import textwrap

import pytest

from llmcalc_xl import CatalogError, estimate, load_catalog

GOOD = '''
[[api_models]]
id = "acme-large"
name = "Acme Large"
provider = "Acme"
released = "2026-01-15"
deprecated = "2026-06-01"
retires = "2026-12-01"
successor = "acme-large-2"
input_usd_per_mtok = 2.0
cached_input_usd_per_mtok = 0.2
cache_write_usd_per_mtok = 2.5
output_usd_per_mtok = 10.0
batch_input_usd_per_mtok = 1.0
batch_output_usd_per_mtok = 5.0
long_context_threshold_tokens = 200000
long_input_usd_per_mtok = 4.0
long_cached_input_usd_per_mtok = 0.4
long_output_usd_per_mtok = 15.0
priority_input_usd_per_mtok = 3.6
priority_output_usd_per_mtok = 18.0
source = "price list"
as_of = "2026-11-01"

[[api_models.prices]]
effective_until = "2026-02-28"
input_usd_per_mtok = 1.0
output_usd_per_mtok = 5.0

[[api_models.prices]]
effective_from = "2026-12-01"
effective_until = "2026-12-31"
input_usd_per_mtok = 4.0
cached_input_usd_per_mtok = 0.4
output_usd_per_mtok = 20.0
source = "announced rise"

[[api_models]]
id = "acme-large-2"
name = "Acme Large 2"
provider = "Acme"
input_usd_per_mtok = 3.0
output_usd_per_mtok = 12.0
source = "price list"
as_of = "2026-11-01"
'''


def _file(tmp_path, text, name="acme.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_complete_entry_loads_with_its_schedule(tmp_path):
    m = load_catalog([_file(tmp_path, GOOD)]).model("acme-large")
    assert (m.released, m.deprecated, m.retires, m.successor) == ("2026-01-15", "2026-06-01", "2026-12-01",
                                                                  "acme-large-2")
    assert (m.long_context_threshold_tokens, m.long_output_usd_per_mtok) == (200000, 15.0)
    assert [p.effective_from for p in m.prices] == ["", "2026-12-01"]
    assert m.prices[1].source == "announced rise"


@pytest.mark.parametrize("day, expected", [
    ("2026-01-20", (1.0, None, 5.0)),     # first period: open start through 2026-02-28
    ("2026-02-28", (1.0, None, 5.0)),     # effective_until is the last day of a period
    ("2026-03-01", (2.0, 0.2, 10.0)),     # between periods: the top-level price
    ("2026-11-30", (2.0, 0.2, 10.0)),
    ("2026-12-01", (4.0, 0.4, 20.0)),     # effective_from is the first day
    ("2027-01-01", (2.0, 0.2, 10.0)),     # after the last period: the top-level price again
])
def test_price_on_a_day(tmp_path, day, expected):
    p = load_catalog([_file(tmp_path, GOOD)]).model("acme-large").price_on(day)
    assert (p.input_usd_per_mtok, p.cached_input_usd_per_mtok, p.output_usd_per_mtok) == expected
    assert load_catalog([_file(tmp_path, GOOD)]).model("acme-large").price_on(dt.date.fromisoformat(day)) == p


def test_the_top_level_price_keeps_its_extra_prices_on_a_day_no_period_covers(tmp_path):
    p = load_catalog([_file(tmp_path, GOOD)]).model("acme-large").price_on("2026-06-01")
    assert (p.batch_input_usd_per_mtok, p.long_input_usd_per_mtok, p.priority_output_usd_per_mtok) == (1.0, 4.0, 18.0)


def _bad(field_lines, prices=""):
    return ('[[api_models]]\nid = "acme-x"\nname = "X"\nprovider = "Acme"\ninput_usd_per_mtok = 1.0\n'
            'output_usd_per_mtok = 2.0\nsource = "s"\nas_of = "2026-11-01"\n' + field_lines + prices)


@pytest.mark.parametrize("text, message", [
    (_bad('released = "2026-02-01"\nretires = "2026-01-01"\n'),
     "'acme-x': retires (2026-01-01) is before released (2026-02-01); the order is released, deprecated, "
     "retires."),
    (_bad('deprecated = "soon"\n'), "'acme-x': deprecated must be an ISO date like 2025-06-30, got 'soon'."),
    (_bad('successor = "acme-x"\n'), "'acme-x': successor 'acme-x' is this model itself. Name the model that "
                                     "replaces it."),
    (_bad('batch_input_usd_per_mtok = 0.5\n'), "'acme-x': batch_input_usd_per_mtok and batch_output_usd_per_mtok go "
                                               "together: give both, or neither."),
    (_bad('long_input_usd_per_mtok = 2.0\n'), "'acme-x': long_input_usd_per_mtok needs long_context_threshold_tokens "
                                              "(the prompt length in tokens above which the long-context prices "
                                              "apply)."),
    (_bad('long_context_threshold_tokens = 100000\nlong_input_usd_per_mtok = 2.0\n'),
     "'acme-x': long_context_threshold_tokens needs long_output_usd_per_mtok (the price above the threshold)."),
    (_bad('long_context_threshold_tokens = 0\n'),
     "'acme-x': long_context_threshold_tokens must be > 0, got 0."),
    (_bad('', '[[api_models.prices]]\neffective_form = "2027-01-01"\ninput_usd_per_mtok = 1\n'
              'output_usd_per_mtok = 2\n'),
     "'acme-x': prices[1]: unknown field 'effective_form' (did you mean 'effective_from'?)."),
    (_bad('', '[[api_models.prices]]\ninput_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n'),
     "'acme-x': prices[1]: needs effective_from or effective_until (or both): the days this price applies."),
    (_bad('', '[[api_models.prices]]\neffective_from = "2027-01-01"\noutput_usd_per_mtok = 2\n'),
     "'acme-x': prices[1]: missing field 'input_usd_per_mtok'."),
    (_bad('', '[[api_models.prices]]\neffective_from = "2027-01-01"\ninput_usd_per_mtok = -1\n'
              'output_usd_per_mtok = 2\n'),
     "'acme-x': prices[1]: input_usd_per_mtok must be >= 0, got -1.0."),
    (_bad('', '[[api_models.prices]]\neffective_from = "2027-02-01"\neffective_until = "2027-01-01"\n'
              'input_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n'),
     "'acme-x': prices[1]: effective_until (2027-01-01) is before effective_from (2027-02-01)."),
    (_bad('', '[[api_models.prices]]\neffective_from = "2026-10-01"\ninput_usd_per_mtok = 1\n'
              'output_usd_per_mtok = 2\n'),
     "'acme-x': prices[1] (2026-10-01 to open) covers as_of 2026-11-01 and has no end: the top-level prices are the "
     "price on as_of, or the standing price that follows an introductory period, so an open-ended period may not "
     "cover that day. Move its dates, give its effective_until, or make it the top-level price."),
    (_bad('', '[[api_models.prices]]\neffective_from = "2027-01-01"\ninput_usd_per_mtok = 1\n'
              'output_usd_per_mtok = 2\n[[api_models.prices]]\neffective_from = "2027-06-01"\n'
              'effective_until = "2027-12-31"\ninput_usd_per_mtok = 1\noutput_usd_per_mtok = 2\n'),
     "'acme-x': prices[1] (2027-01-01 to open) and prices[2] (2027-06-01 to 2027-12-31) overlap; each day has one "
     "price."),
    (_bad('prices = "soon"\n'), "'acme-x': prices must be a list of [[...prices]] tables."),
])
def test_bad_api_entries_name_file_entry_and_field(tmp_path, text, message):
    with pytest.raises(CatalogError) as e:
        load_catalog([_file(tmp_path, text, "bad.toml")])
    assert str(e.value) == f"Catalog file '{tmp_path / 'bad.toml'}', [[api_models]] entry 1 {message} Fix the entry " \
                           "and load again."


def test_a_successor_must_be_a_catalog_id(tmp_path):
    path = _file(tmp_path, _bad('successor = "gpt-6-lune"\n'), "bad.toml")
    with pytest.raises(CatalogError) as e:
        load_catalog([path])
    assert str(e.value) == (f"Catalog file '{path}', [[api_models]] entry 1 'acme-x': successor 'gpt-6-lune' is not "
                            "an id in the catalog. Did you mean: gpt-6-luna, gpt-5.6-luna, gpt-6-sol? Give the id of a "
                            "catalog model, or leave successor out.")


def test_a_successor_may_be_an_open_weight_model(tmp_path):
    assert load_catalog([_file(tmp_path, _bad('successor = "llama-3.3-70b"\n'))]).model("acme-x").successor \
        == "llama-3.3-70b"


def test_a_users_own_price_replaces_the_published_schedule(tmp_path):
    # a contract price holds on every day; the shipped December rise of Gemini 4 Carbon must not apply to it
    path = _file(tmp_path, '[[api_models]]\nid = "gemini-4-carbon"\ninput_usd_per_mtok = 1.5\n'
                           'output_usd_per_mtok = 7.5\nsource = "our contract"\nas_of = "2026-11-20"\n')
    m = load_catalog([path]).model("gemini-4-carbon")
    assert m.prices == ()
    assert (m.price_on("2026-12-15").input_usd_per_mtok, m.price_on("2026-12-15").output_usd_per_mtok) == (1.5, 7.5)


def test_an_override_without_prices_keeps_the_schedule(tmp_path):
    path = _file(tmp_path, '[[api_models]]\nid = "gemini-4-carbon"\nnotes = "ours"\nsource = "our note"\n'
                           'as_of = "2026-11-20"\n')
    assert load_catalog([path]).model("gemini-4-carbon").price_on("2026-12-15").input_usd_per_mtok == 4.0


# --- the shipped catalog ------------------------------------------------------------------------------

def test_every_shipped_api_entry_has_a_source_and_a_date(cat):
    for e in cat.entries("api_models"):
        assert re.match(r"^(https://|secondary: |github:)", e.source), e.id
        assert re.match(r"^\d{4}-\d{2}-\d{2}$", e.as_of), e.id
        assert e.provider and e.name, e.id
        for p in e.prices:
            assert p.effective_from or p.effective_until, e.id


def test_shipped_successors_are_catalog_ids(cat):
    ids = set(cat.ids("models")) | set(cat.ids("api_models"))
    assert {e.successor for e in cat.entries("api_models") if e.successor} <= ids


# Retirement dates given in the issue (from OpenAI's and Google's deprecation pages).
@pytest.mark.parametrize("ids, retires", [
    ("o4-mini gpt-4.1-nano gpt-4", "2026-10-23"),
    ("gemini-2.5-pro gemini-2.5-flash", "2026-12-01"),
    ("gpt-5 gpt-5-mini gpt-5-nano o3", "2026-12-11"),
    ("gpt-4o gpt-4o-mini gpt-4.1 gpt-4.1-mini", "2027-01-14"),
])
def test_shipped_retirement_dates(cat, ids, retires):
    assert {cat.model(i).retires for i in ids.split()} == {retires}


def test_gpt4_keeps_its_price_after_retirement(cat):
    # old quotes must still compute: GPT-4 8k at $30 / $60 (developers.openai.com/api/docs/models/gpt-4.md)
    r = estimate("gpt-4", input_tokens=1000, output_tokens=500)
    assert r.cost_per_request_usd == pytest.approx((1000 * 30 + 500 * 60) / 1e6, rel=1e-12)


# Batch and priority (Fast) prices as pydantic/genai-prices 0.2.3 lists them, read from OpenAI's pricing page
# (tiers 2026-10-12, Batch 2026-10-14) and Google's (Batch tab, 2026-10-14); USD per million tokens.
@pytest.mark.parametrize("model, batch, priority", [
    ("gpt-4o", (1.25, 5.00), (4.25, 17.00)),
    ("gpt-4o-mini", (0.075, 0.30), (0.25, 1.00)),
    ("gpt-4.1", (1.00, 4.00), (3.50, 14.00)),
    ("gpt-5", (0.625, 5.00), (2.50, 20.00)),
    ("o3", (1.00, 4.00), (3.50, 14.00)),
    ("gemini-2.5-pro", (0.625, 5.00), (None, None)),
    ("gemini-2.5-flash-lite", (0.05, 0.20), (None, None)),
])
def test_refreshed_batch_and_priority_prices(cat, model, batch, priority):
    m = cat.model(model)
    assert (m.batch_input_usd_per_mtok, m.batch_output_usd_per_mtok) == batch
    assert (m.priority_input_usd_per_mtok, m.priority_output_usd_per_mtok) == priority
    assert m.as_of >= "2026-09-01"  # under 90 days old on 2026-11-30


@pytest.mark.parametrize("model", ["gemini-4-carbon", "gemini-4-argon"])
def test_gemini_4_introductory_price_ends_on_december_1(cat, model):
    # laozhang (2026-11-11) for Carbon, Google's latest-model guide and decant v0.13.1 (2026-11-05) for Argon:
    # $2 / $0.10 cached / $10 through 2026-11-30, then Google's standard $4 / $0.20 / $20, read in advance and
    # so the top-level price (a catalog read in November stays current in December)
    m = cat.model(model)
    now, later = m.price_on("2026-11-30"), m.price_on("2026-12-01")
    assert (now.input_usd_per_mtok, now.cached_input_usd_per_mtok, now.output_usd_per_mtok) == (2.0, 0.1, 10.0)
    assert (later.input_usd_per_mtok, later.cached_input_usd_per_mtok, later.output_usd_per_mtok) == (4.0, 0.2, 20.0)
    assert (m.input_usd_per_mtok, m.output_usd_per_mtok) == (4.0, 20.0) and m.as_of < "2026-12-01"
    assert m.price_on("2027-06-30").input_usd_per_mtok == 4.0


INTRO = textwrap.dedent('''
    [[api_models]]
    id = "acme-new"
    name = "Acme New"
    provider = "Acme"
    input_usd_per_mtok = 4.0
    output_usd_per_mtok = 20.0
    source = "price list, read on 2026-11-05: $2 / $10 through November, then $4 / $20"
    as_of = "2026-11-05"

    [[api_models.prices]]
    effective_until = "2026-11-30"
    input_usd_per_mtok = 2.0
    output_usd_per_mtok = 10.0
''')


@pytest.mark.parametrize("day, expected", [
    ("2026-11-05", (2.0, 10.0)),   # as_of itself lies in the introductory period
    ("2026-11-30", (2.0, 10.0)),   # its last day
    ("2026-12-01", (4.0, 20.0)),   # the standing price, read in advance
    ("2027-03-01", (4.0, 20.0)),
])
def test_an_introductory_period_may_cover_as_of(tmp_path, day, expected):
    p = load_catalog([_file(tmp_path, INTRO)]).model("acme-new").price_on(day)
    assert (p.input_usd_per_mtok, p.output_usd_per_mtok) == expected


def test_mistral_cached_input_is_a_tenth_of_input(cat):
    # docs.mistral.ai prompt caching: "billed at 10% of the standard input token price"; a card that prints
    # the cached price rounds it to the cent (Mistral Large 4: $0.07 for 10% of $0.68)
    for e in cat.entries("api_models"):
        if e.provider == "Mistral":
            assert e.cached_input_usd_per_mtok == pytest.approx(e.input_usd_per_mtok / 10, abs=0.005), e.id


# One hand-computed request per provider new in this catalog: 10,000 input tokens of which 4,000 are
# cached, and 2,000 output tokens. Cost = (6,000 x input + 4,000 x cached + 2,000 x output) / 1e6.
@pytest.mark.parametrize("model, expected_usd", [
    # DeepSeek, peak price (api-docs.deepseek.com/quick_start/pricing): $1.32 / $0.044 cache hit / $3.96
    ("deepseek-v4-pro-api", (6000 * 1.32 + 4000 * 0.044 + 2000 * 3.96) / 1e6),   # 0.016016
    # DeepSeek Flash, peak: $0.30 / $0.006 / $1.20
    ("deepseek-flash", (6000 * 0.30 + 4000 * 0.006 + 2000 * 1.20) / 1e6),        # 0.004224
    # xAI (docs.x.ai/developers/grok-4-7; cache read per apidog.com): $2 / $0.50 / $6
    ("grok-4.7", (6000 * 2.0 + 4000 * 0.50 + 2000 * 6.0) / 1e6),                  # 0.026
    # Moonshot (docs.apiyi.com, matching Moonshot's price): $2 / $0.20 / $10
    ("kimi-k3.1-pro", (6000 * 2.0 + 4000 * 0.20 + 2000 * 10.0) / 1e6),            # 0.0328
    # Amazon Nova 2 Lite on Bedrock (aws/agent-toolkit-for-aws azure-to-aws pricing-cache.md, re-verified
    # against aws.amazon.com/bedrock/pricing, 2026-10-05): $0.33 / $2.75 and no published cache-read price, so
    # the 4,000 cached tokens bill as input: (10,000 x 0.33 + 2,000 x 2.75) / 1e6
    ("amazon-nova-2-lite", (10_000 * 0.33 + 2000 * 2.75) / 1e6),                  # 0.0088
])
def test_a_request_on_each_new_provider(model, expected_usd):
    r = estimate(model, input_tokens=10_000, cached_input_tokens=4_000, output_tokens=2_000)
    assert r.cost_per_request_usd == pytest.approx(expected_usd, rel=1e-12)


def test_amazon_nova_prices_are_the_re_verified_on_demand_ones(cat):
    # aws/agent-toolkit-for-aws azure-to-aws pricing-cache.md, "Last updated: 2026-10-05" (re-verified
    # against aws.amazon.com/bedrock/pricing), US East: Nova Micro $0.035 / $0.14, Nova Pro $0.80 / $3.20.
    # Their Batch prices ($0.0175 / $0.07, $0.40 / $1.60) appear only in the 2026-09-03 cache, not re-read
    # since, so they stay in the notes and are not priced.
    for model, (inp, out, batch) in {"amazon-nova-micro": (0.035, 0.14, "$0.0175 / $0.07"),
                                     "amazon-nova-pro": (0.80, 3.20, "$0.40 / $1.60")}.items():
        m = cat.model(model)
        assert (m.input_usd_per_mtok, m.output_usd_per_mtok, m.as_of) == (inp, out, "2026-10-05")
        assert m.batch_input_usd_per_mtok is None and batch in m.notes
        assert m.provider == "Amazon" and m.cached_input_usd_per_mtok is None


@pytest.mark.parametrize("model, retires", [
    # mistralai/platform-docs-public@222f4ba (2026-08-21), model cards' metadata: retirementDate, and
    # replacement "Mistral Medium 3.5" for all three
    ("devstral-2-api", "2026-07-31"), ("magistral-medium", "2026-07-31"), ("mistral-medium-3", "2026-08-31"),
])
def test_retired_mistral_models_name_medium_3_5_and_still_compute(cat, model, retires):
    m = cat.model(model)
    assert (m.retires, m.successor) == (retires, "mistral-medium-3.5")
    # Devstral 2 and Medium 3: $0.40 / $2.00; Magistral Medium: $2.00 / $5.00 (same cards)
    inp, out = (2.0, 5.0) if model == "magistral-medium" else (0.4, 2.0)
    r = estimate(model, input_tokens=1000, output_tokens=500, quote_date="2026-11-30")
    assert r.cost_per_request_usd == pytest.approx((1000 * inp + 500 * out) / 1e6, rel=1e-12)
