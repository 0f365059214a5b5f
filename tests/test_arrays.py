"""``arrays.where`` gives what ``np.where`` gives: values, shape and dtype, in a new array."""

import numpy as np
import pytest

from llmcalc_xl.core.arrays import SHORTCUT_ROWS, where

N = 4 * SHORTCUT_ROWS
RNG = np.random.default_rng(3)
CONDITIONS = {
    "all true": np.ones(N, dtype=bool), "all false": np.zeros(N, dtype=bool),
    "one true": np.arange(N) == 5, "one false": np.arange(N) != 5,
    "mixed": RNG.random(N) < 0.5, "mostly true": RNG.random(N) < 0.9, "short": RNG.random(10) < 0.5,
}
SIDES = {
    "floats": RNG.normal(size=N), "with nan and inf": np.where(RNG.random(N) < 0.3, np.nan, np.inf),
    "ints": RNG.integers(-5, 5, N), "bools": RNG.random(N) < 0.5, "nan": np.nan, "zero": 0.0, "one int": 1,
    "false": False, "numpy float": np.float64(2.5),
}


@pytest.mark.parametrize("cond", CONDITIONS, ids=str)
@pytest.mark.parametrize("a", SIDES, ids=str)
@pytest.mark.parametrize("b", ["floats", "nan", "ints", "bools", "false"], ids=str)
def test_where_equals_numpy(cond, a, b):
    c = CONDITIONS[cond]
    x, y = (v[: len(c)] if np.ndim(v) else v for v in (SIDES[a], SIDES[b]))
    want, got = np.where(c, x, y), where(c, x, y)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f")
    for side in (x, y):
        assert not np.shares_memory(got, side)  # a new array, as np.where gives
