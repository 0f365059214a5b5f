"""The one way outputs are written: complete or not at all, as ordinary files."""

import os
import re
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


# --- atomic writes and backups ---------------------------------------------------------------------

def test_a_write_lands_on_the_target_of_a_symbolic_link(tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    with replacing(link) as tmp:
        tmp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_backup_interrupted_by_kill_9_leaves_the_previous_backup_whole(tmp_path):
    """The copy runs in a child process that is killed (SIGKILL) half-way through."""
    import signal
    import subprocess
    import sys
    import time

    if not hasattr(signal, "SIGKILL"):
        pytest.skip("no SIGKILL on this system")
    src, backup, started = tmp_path / "q.xlsx", tmp_path / "q.backup.xlsx", tmp_path / "started"
    src.write_bytes(b"new version " * 400_000)
    backup.write_bytes(b"previous backup")
    child = subprocess.Popen([sys.executable, "-c", f"""
import shutil, time
from pathlib import Path
from llmcalc_xl.files import backup_copy

def slow_copy(a, b, **kw):
    with open(a, "rb") as fa, open(b, "wb") as fb:
        fb.write(fa.read(1000))
        fb.flush()
        Path({str(started)!r}).touch()
        time.sleep(60)
        fb.write(fa.read())

shutil.copyfile = slow_copy
backup_copy({str(src)!r}, {str(backup)!r})
"""])
    try:
        for _ in range(600):
            if started.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), "the copy did not start"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert backup.read_bytes() == b"previous backup"


def test_a_finished_backup_is_a_whole_copy_with_the_original_times(tmp_path):
    from llmcalc_xl.files import backup_copy

    src = tmp_path / "q.xlsx"
    src.write_bytes(b"x" * 100_000)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    backup_copy(src, tmp_path / "q.backup.xlsx")
    assert (tmp_path / "q.backup.xlsx").read_bytes() == src.read_bytes()
    assert (tmp_path / "q.backup.xlsx").stat().st_mtime == 1_600_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.backup.xlsx", "q.xlsx"]


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), OSError(30, "Read-only file system"),
                                   OSError(28, "No space left on device")])
def test_a_folder_that_cannot_be_written_is_one_message(tmp_path, monkeypatch, error):
    import tempfile

    def refuse(*args, **kwargs):
        raise error
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(InvalidValueError, match=r"'.*out.csv' cannot be written \(" + error.strerror):
        with replacing(tmp_path / "out.csv"):
            pass


def test_a_disk_that_fills_up_while_writing_leaves_the_target_untouched(tmp_path):
    import errno

    out = tmp_path / "out.csv"
    out.write_text("old")
    with pytest.raises(InvalidValueError, match="No space left on device"):
        with replacing(out) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


@pytest.mark.parametrize("lock", ["~$out.xlsx", ".~lock.out.xlsx#"])
def test_a_file_open_in_a_spreadsheet_is_not_replaced(tmp_path, lock):
    out = tmp_path / "out.xlsx"
    out.write_text("old")
    (tmp_path / lock).write_text("")
    with pytest.raises(InvalidValueError, match=r"'out.xlsx' is open in (Excel|LibreOffice) \(its lock file"):
        with replacing(out):
            pass
    assert out.read_text() == "old"


def test_special_files_and_folders_are_never_replaced(tmp_path):
    with pytest.raises(InvalidValueError, match="is a folder"):
        with replacing(tmp_path):
            pass
    if os.path.exists("/dev/null"):
        with pytest.raises(InvalidValueError, match="is not a regular file"):
            with replacing("/dev/null"):
                pass


# --- outputs apart from inputs ---------------------------------------------------------------------

def test_the_same_file_is_recognised_however_it_is_named(tmp_path, monkeypatch):
    from llmcalc_xl.files import check_distinct, same_file

    a = tmp_path / "a.csv"
    a.write_text("x")
    (tmp_path / "sym.csv").symlink_to(a)
    os.link(a, tmp_path / "hard.csv")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    for other in ["a.csv", "./a.csv", "sub/../a.csv", str(a), "sym.csv", "hard.csv"]:
        assert same_file(other, a), other
        with pytest.raises(InvalidValueError, match=f"--out '{re.escape(other)}' is the same file as --scenarios"):
            check_distinct([("--out", other)], [("--scenarios", "a.csv")])
    assert not same_file("b.csv", a) and not same_file("new.csv", "other.csv")
    assert same_file("new.csv", "./sub/../new.csv")  # neither exists yet
    check_distinct([("--out", "b.csv")], [("--scenarios", "a.csv")])


# --- inputs read within bounds -----------------------------------------------------------------------

def test_only_regular_files_are_read(tmp_path):
    from llmcalc_xl.files import read_bounded, regular_file

    with pytest.raises(InvalidValueError, match="is a folder"):
        regular_file(tmp_path, "Catalog file")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(InvalidValueError, match="is not a regular file"):
            read_bounded(tmp_path / "fifo", "Catalog file", 100)
    if os.path.exists("/dev/zero"):
        with pytest.raises(InvalidValueError, match="is not a regular file"):
            read_bounded("/dev/zero", "Catalog file", 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(InvalidValueError, match="larger than 100 bytes"):
        read_bounded(tmp_path / "big", "Catalog file", 100)
    (tmp_path / "ok").write_bytes(b"x" * 100)
    assert read_bounded(tmp_path / "ok", "Catalog file", 100) == b"x" * 100
