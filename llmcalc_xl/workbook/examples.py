"""Regenerate the project's example files: ``python -m llmcalc_xl.workbook.examples``.

- templates/quote.xlsx: the default quote template (styles and Cover);
- workbooks/quote.xlsx: the default quote (the worked scenarios);
- workbooks/example-scenarios.xlsx: a quote built from workbooks/example-scenarios.csv.

They carry a fixed as-of date so that regenerating them changes nothing unless the code or
the catalogs changed; a test fails when the committed files are stale.
"""

from __future__ import annotations

import datetime as _dt
import sys
from typing import Any
from pathlib import Path

EXAMPLE_AS_OF = _dt.date(2026, 11, 26)
ROOT = Path(__file__).resolve().parents[2]


def build_examples(root: Path = ROOT) -> list[Path]:
    from ..catalogs.loader import load_catalog
    from .quote import scenarios_from_csv
    from .template import default_template
    from .build import build_workbook, save_atomically

    cat = load_catalog(())
    template = root / "templates" / "quote.xlsx"
    default_template().save(template)
    written = [template]
    common: dict[str, Any] = dict(catalog=cat, template=template, as_of=EXAMPLE_AS_OF, client="Example client",
                                  prepared_by="llmcalc-xl examples")
    written.append(save_atomically(build_workbook(None, **common), root / "workbooks" / "quote.xlsx", force=True))
    rows, problems = scenarios_from_csv(str(root / "workbooks" / "example-scenarios.csv"), cat)
    if problems:
        raise SystemExit("example-scenarios.csv has bad rows:\n" + "\n".join(problems))
    written.append(save_atomically(build_workbook(rows, title="LLM inference quote: support, analysts, batch",
                                                  **common), root / "workbooks" / "example-scenarios.xlsx",
                                   force=True))
    return written


if __name__ == "__main__":
    for path in build_examples(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT):
        print(f"wrote {path}")
