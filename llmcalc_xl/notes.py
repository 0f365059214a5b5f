"""Notes: why an estimate leaves a quantity without an answer, with a kind a program can test.

A note is not an error: the row computed, but some figure does not apply or needs more input.
The core makes each note where it knows why (``core/estimate.py``) and records its kind there;
surfaces choose notes by kind and show their text, never by reading the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

NoteKind = Literal["not_applicable", "retired", "does_not_fit", "no_price", "no_speed", "api_no_speed"]

#: Every kind, in the order a row's notes are listed:
#: ``not_applicable``: memory and fit do not apply (an API model runs on the provider's hardware);
#: ``retired``: the API model was retired by the quote's date (still priced; its successor named);
#: ``does_not_fit``: the self-hosted deployment does not fit, so it has no speed and no cost;
#: ``no_price``: the hardware has no hourly price, so GPU time is not priced;
#: ``no_speed``: the hardware has no published TFLOPS, so there is no speed estimate;
#: ``api_no_speed``: the API model has no published speed, so no latency or GPU time.
NOTE_KINDS: tuple[NoteKind, ...] = get_args(NoteKind)


@dataclass(frozen=True)
class Note:
    """One note of an estimate: its ``kind`` (one of ``NOTE_KINDS``) and the ``text`` shown."""

    kind: NoteKind
    text: str

    def __post_init__(self) -> None:
        if self.kind not in NOTE_KINDS:
            raise ValueError(f"Note kind '{self.kind}' is not one of {', '.join(NOTE_KINDS)}.")

    def __str__(self) -> str:
        return self.text


def note_bit(kind: NoteKind) -> int:
    """The bit of ``kind`` in a row's ``note_kinds`` flags (bit i is ``NOTE_KINDS[i]``)."""
    return 1 << NOTE_KINDS.index(kind)


def notes_of(texts: str | None, kinds: int) -> tuple[Note, ...]:
    """A row's notes from the two columns ``estimate_many`` gives: ``notes`` (the texts, one line
    each, None for none) and ``note_kinds`` (the kinds' bits). The lines are in ``NOTE_KINDS``
    order, as the core adds them."""
    lines = [line for line in (texts or "").split("\n") if line]
    found = [kind for i, kind in enumerate(NOTE_KINDS) if int(kinds) >> i & 1]
    if len(lines) != len(found):  # the core broke its own rule: not something a user can fix
        raise RuntimeError(f"{len(lines)} note texts for the {len(found)} note kinds {found}: {lines}")
    return tuple(Note(kind, text) for kind, text in zip(found, lines))
