"""The one way outputs are written: complete or not at all, as ordinary files."""

import os
import stat

import pytest

from llmcalc_xl import InvalidValueError
from llmcalc_xl.files import replacing


def test_a_finished_write_replaces_the_target_with_ordinary_permissions(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    with replacing(out) as tmp:
        tmp.write_text("new")
    assert out.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_write_leaves_the_target_untouched_and_no_temporary_file(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_missing_folder_is_one_clear_message(tmp_path):
    with pytest.raises(InvalidValueError, match="Output folder '.*missing' does not exist. Create it"):
        with replacing(tmp_path / "missing" / "out.csv"):
            pass
