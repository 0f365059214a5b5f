import pytest

from llmcalc_xl import load_catalog


@pytest.fixture(scope="session")
def cat():
    return load_catalog(())


@pytest.fixture(autouse=True)
def no_user_catalog(monkeypatch):
    """Tests see the shipped catalog unless they set a user file themselves."""
    monkeypatch.delenv("LLMCALC_XL_CATALOG", raising=False)
