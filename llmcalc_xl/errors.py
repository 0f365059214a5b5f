"""The one exception family for problems a user can fix.

Every message has the shape ``<what> '<value>' <rule>. <fix>``; the CLI prints it
as one ``Error: ...`` line, an Excel function shows it in the cell, a batch row
keeps it in its ``error`` column.
"""

from __future__ import annotations


class LlmcalcError(Exception):
    """Base class: something the user can fix (a bad id, a bad number, a bad file)."""

    def __str__(self) -> str:  # KeyError would otherwise wrap the text in quotes
        return str(self.args[0]) if self.args else ""


class UnknownIdError(LlmcalcError, KeyError):
    """An id that is in no catalog; the message lists the closest ids."""


class InvalidValueError(LlmcalcError, ValueError):
    """A number or option outside its rule (negative tokens, zero GPUs, ...)."""


class NotApplicableError(LlmcalcError, ValueError):
    """A question that has no answer for this input (memory of an API model)."""


class CatalogError(LlmcalcError, ValueError):
    """A catalog file that cannot be loaded: names the file, the entry and the field."""
