"""llmcalc-xl: price and size LLM inference - memory, speed and cost - for Excel users.

>>> from llmcalc_xl import estimate
>>> estimate(model="llama-3-8b", hardware="l4").to_dict()["fits"]
True
"""

from __future__ import annotations

__version__ = "0.1.0"

from .catalogs.loader import Catalog, load_catalog  # noqa: E402
from .errors import (  # noqa: E402
    CatalogError,
    InvalidValueError,
    LlmcalcError,
    NotApplicableError,
    UnknownIdError,
)
from .core.estimate import OUTPUT_KEYS, Estimate, estimate, estimate_many  # noqa: E402
from .notes import NOTE_KINDS, Note  # noqa: E402

__all__ = [
    "__version__", "estimate", "estimate_many", "Estimate", "OUTPUT_KEYS", "load_catalog", "Catalog",
    "LlmcalcError", "UnknownIdError", "InvalidValueError", "NotApplicableError", "CatalogError", "Note", "NOTE_KINDS",
]
