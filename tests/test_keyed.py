"""``keyed``: arithmetic on catalog values per entry gives what the same arithmetic gives row by
row, and ``estimate_many`` gives the same results with it as without it."""

import numpy as np
import pytest

from llmcalc_xl import estimate_many, load_catalog
from llmcalc_xl.core import keyed
from llmcalc_xl.core.arrays import where

N = 6000
RNG = np.random.default_rng(5)


def _space():
    """Two tables (5 and 3 entries) and a row column; -1: a row with no entry."""
    space = keyed.Space(N)
    a_pos, b_pos = RNG.integers(-1, 5, N), RNG.integers(-1, 3, N)
    a_col, b_col = np.array([1.0, np.nan, 3.0, 0.0, -2.5]), np.array([4.0, 0.5, np.nan])
    a = keyed.Axis(space, a_pos, 5).values(a_col, np.nan)
    b = keyed.Axis(space, b_pos, 3).values(b_col, 7.0)
    # the same columns row by row, as the core took them before (missing where -1)
    a_rows = np.where(a_pos >= 0, a_col[np.maximum(a_pos, 0)], np.nan)
    b_rows = np.where(b_pos >= 0, b_col[np.maximum(b_pos, 0)], 7.0)
    return space, a, b, a_rows, b_rows


def _same(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f")


def test_columns_are_the_rows_values():
    _, a, b, a_rows, b_rows = _space()
    _same(a, a_rows)
    _same(b, b_rows)


@pytest.mark.parametrize("expression", [
    lambda a, b: a * b + 1.0, lambda a, b: np.maximum(a, b) / (b - 0.5), lambda a, b: ~np.isnan(a) & (b > 1),
    lambda a, b: where(np.isnan(a), b, a), lambda a, b: np.where(a > b, 2.0, b), lambda a, b: np.ceil(a / b) * b,
    lambda a, b: 2.0 ** b - a, lambda a, b: where(b > 0, a, 0.0) + where(a > 0, 1.0, 0.0),
])
def test_arithmetic_equals_rows(expression):
    space, a, b, a_rows, b_rows = _space()
    with np.errstate(all="ignore"):
        got = expression(a, b)
        assert isinstance(got, keyed.Keyed)  # 5 x 3 combinations: kept per entry
        _same(got, expression(a_rows, b_rows))


def test_a_row_column_expands_the_keyed_values():
    _, a, b, a_rows, b_rows = _space()
    rows = RNG.normal(size=N)
    got = a * rows + where(rows > 0, b, a)
    assert type(got) is np.ndarray
    _same(got, a_rows * rows + where(rows > 0, b_rows, a_rows))


def test_more_combinations_than_the_limit_are_rows():
    space = keyed.Space(N)  # a limit of N / 4 combinations
    first = keyed.Axis(space, np.arange(N) % 50, 50).values(np.arange(50.0), np.nan)
    second = keyed.Axis(space, np.arange(N) // 50, N // 50 + 1).values(np.arange(N // 50 + 1.0), np.nan)
    got = first * 1000.0 + second
    assert type(got) is np.ndarray
    _same(got, (np.arange(N) % 50) * 1000.0 + np.arange(N) // 50)


def _book(n, seed):
    """A mixed book: every model, GPU and precision at random, GPU counts and some "auto"."""
    rng = np.random.default_rng(seed)
    cat = load_catalog()
    models = [m.id for m in cat.entries("models")] + [m.id for m in cat.entries("api_models")][:5]
    hardware = [h.id for h in cat.entries("hardware")] + [None]
    gpus = rng.choice(np.array([1, 2, 4, 8, 3, "auto"], dtype=object), n)
    return dict(model=rng.choice(np.array(models, dtype=object), n),
                hardware=rng.choice(np.array(hardware, dtype=object), n), gpus=gpus,
                precision=rng.choice(np.array(["fp16", "fp8", "int4", "q4_k_m", None], dtype=object), n),
                engine=rng.choice(np.array(["vllm", "llama.cpp", None], dtype=object), n),
                input_tokens=rng.integers(0, 6000, n), output_tokens=rng.integers(1, 3000, n),
                batch=rng.integers(1, 64, n), requests_per_month=rng.integers(0, 10_000_000, n),
                pricing=rng.choice(np.array(["on-demand", "spot", "owned", None], dtype=object), n))


@pytest.mark.parametrize("seed", [1, 2])
def test_estimate_many_is_the_same_without_keyed_values(monkeypatch, seed):
    book = _book(N, seed)
    with_keyed = estimate_many(**book, quote_date="2026-11-30")
    monkeypatch.setattr(keyed, "MIN_ROWS", 10**12)  # every block row by row
    without = estimate_many(**book, quote_date="2026-11-30")
    assert set(with_keyed) == set(without)
    for key, want in without.items():
        got = with_keyed[key]
        if want.dtype.kind == "f":
            assert np.array_equal(got, want, equal_nan=True), key
        else:
            assert got.tolist() == want.tolist(), key


@pytest.mark.parametrize("seed", [3, 4])
def test_speed_and_costs_on_the_running_rows_alone_are_the_same(monkeypatch, seed):
    """Where many rows do not fit, speed and costs are computed on the others only; every output
    is what computing them on every row (then NaN where a deployment cannot run) gives."""
    from llmcalc_xl.core import estimate as core_estimate

    book = _book(N, seed)
    monkeypatch.setattr(core_estimate, "_NARROW_SHARE", 1.0)  # always on the running rows alone
    narrowed = estimate_many(**book, quote_date="2026-11-30")
    assert np.nanmean(narrowed["fits"]) < 0.85  # the book has rows that cannot run
    monkeypatch.setattr(core_estimate, "_NARROW_SHARE", -1.0)  # never
    every_row = estimate_many(**book, quote_date="2026-11-30")
    for key, want in every_row.items():
        got = narrowed[key]
        if want.dtype.kind == "f":
            assert np.array_equal(got, want, equal_nan=True), key
        else:
            assert got.tolist() == want.tolist(), key


def test_a_long_column_is_cut_into_a_block_for_each_thread(monkeypatch):
    """A column under CHUNK_ROWS but of at least THREADS x _SPLIT_ROWS rows is priced in THREADS
    blocks (each on its own thread), with the answers of one pass."""
    from llmcalc_xl.core import estimate as core_estimate

    book = _book(12_288, 5)
    monkeypatch.setattr(core_estimate, "THREADS", 1)
    one_pass = estimate_many(**book, quote_date="2026-11-30")
    monkeypatch.setattr(core_estimate, "THREADS", 2)
    monkeypatch.setattr(core_estimate, "_SPLIT_ROWS", 4096)
    seen = []
    each_block = core_estimate._each_block
    monkeypatch.setattr(core_estimate, "_each_block", lambda f, blocks: seen.extend(blocks) or each_block(f, blocks))
    cut = estimate_many(**book, quote_date="2026-11-30")
    assert seen == [(0, 6144), (6144, 12_288)]
    for key, want in one_pass.items():
        got = cut[key]
        if want.dtype.kind == "f":
            assert np.array_equal(got, want, equal_nan=True), key
        else:
            assert got.tolist() == want.tolist(), key


def test_coded_texts_are_the_texts(monkeypatch):
    """``coded_text``: each text output as codes into its names gives, row by row, the text of the
    plain call, in one block and in several (their names one after the other)."""
    from llmcalc_xl.core import estimate as core_estimate
    from llmcalc_xl.core.resolve import Coded

    book = _book(N, 6)
    book["model"][::97] = "no-such-model"  # rows with an error: their texts too
    plain = estimate_many(**book, quote_date="2026-11-30")
    for chunk in (10**9, 1500):
        monkeypatch.setattr(core_estimate, "CHUNK_ROWS", chunk)
        coded = estimate_many(**book, quote_date="2026-11-30", coded_text=True)
        assert set(coded) == set(plain)
        for key in core_estimate.CODED_KEYS:
            assert isinstance(coded[key], Coded), key
            texts = [coded[key].uniques[code] for code in coded[key].codes.tolist()]
            assert texts == plain[key].tolist(), key
        assert plain["notes"].tolist().count(None) < N  # the book has notes
        for key in set(plain) - set(core_estimate.CODED_KEYS):
            want, got = plain[key], coded[key]
            if want.dtype.kind == "f":
                assert np.array_equal(got, want, equal_nan=True), key
            else:
                assert got.tolist() == want.tolist(), key


def test_the_gpu_search_reads_the_fit_at_the_rows_own_count_as_computed(monkeypatch):
    """Rows whose first count tried is their own take the fit computed at it: every output is what
    trying that count again gives."""
    from llmcalc_xl.core import estimate as core_estimate

    book = _book(N, 9)
    book["gpus"] = np.where(book["gpus"] == "auto", 2, book["gpus"])  # counts given: the search with a fit known
    shortcut = estimate_many(**book, quote_date="2026-11-30")
    search = core_estimate._gpus_needed
    monkeypatch.setattr(core_estimate, "_gpus_needed", lambda *args: search(*args[:7]))  # without ``known``
    tried = estimate_many(**book, quote_date="2026-11-30")
    assert np.nanmax(tried["gpus_needed"]) > 8  # the book has rows that need more than they have
    for key, want in tried.items():
        got = shortcut[key]
        if want.dtype.kind == "f":
            assert np.array_equal(got, want, equal_nan=True), key
        else:
            assert got.tolist() == want.tolist(), key
