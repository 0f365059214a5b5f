"""The xlwings configuration that points Excel at this installation's functions."""

from __future__ import annotations

import sys
from pathlib import Path

from ..files import MAX_CATALOG_BYTES, backup_copy, check_writable, read_bounded, replacing
from ..errors import InvalidValueError

UDF_MODULE = "llmcalc_xl.excel.functions"
#: xlwings reads ~/.xlwings/xlwings.conf: one "KEY","value" pair a line.
USER_CONFIG = Path.home() / ".xlwings" / "xlwings.conf"


def settings(python: str | None = None, platform: str | None = None) -> dict[str, str]:
    """The xlwings settings for this Python: its interpreter and our UDF module."""
    platform = platform or sys.platform
    key = "INTERPRETER_MAC" if platform.startswith("darwin") else "INTERPRETER_WIN"
    return {key: python or sys.executable, "UDF MODULES": UDF_MODULE}


def config_lines(values: dict[str, str]) -> list[str]:
    return [f'"{k}","{v}"' for k, v in values.items()]


def merged_config(existing: str, values: dict[str, str]) -> str:
    """``existing`` xlwings.conf text with our keys replaced and everything else kept."""
    kept = []
    for line in existing.splitlines():
        key = line.split(",", 1)[0].strip().strip('"').upper()
        if key and key not in values:
            kept.append(line)
    return "\n".join(kept + config_lines(values)) + "\n"


def write_config(path: Path, values: dict[str, str]) -> Path:
    """Merge our settings into ``path`` atomically (temporary file, then rename); back up the old one."""
    path = Path(path)
    if path.is_dir():
        raise InvalidValueError(f"Config path '{path}' is a folder. Give the path of xlwings.conf.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidValueError(f"Folder '{path.parent}' cannot be created ({exc.strerror}). Give another path "
                                "to --write.") from None
    backup = backup_path(path)
    check_writable(path)
    check_writable(backup)
    existing = ""
    if path.exists():
        try:
            existing = read_bounded(path, "Config file", MAX_CATALOG_BYTES).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValueError(f"Config file '{path}' is not UTF-8 text. Check that it is xlwings.conf, or "
                                    "give another path to --write.") from None
    if existing:
        backup_copy(path, backup)
    with replacing(path) as tmp:
        tmp.write_text(merged_config(existing, values), encoding="utf-8")
    return path


def backup_path(path: Path) -> Path:
    """Where the previous settings are kept: xlwings.conf -> xlwings.conf.bak."""
    return path.with_name(path.name + ".bak")


def instructions(values: dict[str, str], catalog: str | None = None) -> str:
    """What to type and click, for the README's "In Excel" steps, filled in for this machine."""
    import importlib.util

    lines = [] if importlib.util.find_spec("xlwings") else [
        "xlwings is not installed here: pip install \"llmcalc-xl[excel]\" first.", ""]
    lines += [
        "xlwings settings for llmcalc-xl (put them in ~/.xlwings/xlwings.conf, or run",
        "`llmcalc-xl excel setup --write`, or type them into the xlwings ribbon tab):",
        "",
        *("  " + line for line in config_lines(values)),
        "",
        "Then, once, in a terminal of this Python:  xlwings addin install",
        "In Excel: File > Options > Trust Center > Trust Center Settings > Macro Settings >",
        "  tick 'Trust access to the VBA project object model'.",
        "Save your workbook as .xlsm. In its VBA editor (Alt+F11): Tools > References, tick 'xlwings'",
        "  (a workbook not made by `xlwings quickstart` needs this reference for its functions).",
        "In the xlwings ribbon tab: UDF Modules = llmcalc_xl.excel.functions, then click 'Import Functions'.",
        "Type =LLM_COST(\"gpt-4o\", 1000, 500) in a cell to check.",
    ]
    if catalog:
        lines += ["", "Your catalog file for the functions: set a user environment variable, then restart Excel:",
                  f'  setx LLMCALC_XL_CATALOG "{catalog}"' if not sys.platform.startswith("darwin")
                  else f'  launchctl setenv LLMCALC_XL_CATALOG "{catalog}"']
    return "\n".join(lines)
