"""How much Excel formula text is written by hand in the package: spreadsheet function calls
(``IF(``, ``INDEX(``, ``SUMIF(`` ...) inside Python string literals, docstrings left out.

    python benchmarks/formula_text.py

The Calc sheet is generated from ``core/physics.py`` through formula symbols, so what remains is
the symbols' own primitives and the Quote and Cover sheets' few totals. Prints figures; asserts
nothing.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "llmcalc_xl"
CALL = re.compile(r"\b([A-Z][A-Z0-9]*(?:\.[A-Z0-9]+)*)\(")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                out.add(id(first.value))
    return out


def calls_in_strings(path: Path) -> Counter:
    tree = ast.parse(path.read_text())
    skip = _docstrings(tree)
    found: Counter = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            # the Excel functions' own names (=LLM_COST()) are examples for users, not formula text
            found.update(name for name in CALL.findall(node.value) if not name.startswith("LLM_"))
    return found


def main() -> None:
    total: Counter = Counter()
    by_file = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found = calls_in_strings(path)
        if found:
            by_file[str(path.relative_to(PACKAGE.parent))] = sum(found.values())
            total.update(found)
    print(f"hand-written spreadsheet function calls in string literals: {sum(total.values())}")
    for name, count in sorted(by_file.items(), key=lambda kv: -kv[1]):
        print(f"  {name}: {count}")
    print("  by function: " + ", ".join(f"{k}({v})" for k, v in total.most_common()))


if __name__ == "__main__":
    main()
