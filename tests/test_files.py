"""Durable output (common.files): whole files and folders after a crash or a power cut, on any OS."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import common.files as files
from common.files import folder_lock, write_folder_atomically, write_text_atomically

REPO = Path(__file__).resolve().parents[1]


def test_a_written_file_is_flushed_to_disk_with_the_folder_that_names_it(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        info = os.fstat(fd)
        synced.append(("folder" if stat.S_ISDIR(info.st_mode) else "file", info.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    path = write_text_atomically(tmp_path / "out" / "a.txt", "hello")
    assert path.read_text() == "hello"
    assert ("file", path.stat().st_ino) in synced  # the bytes, before the rename
    assert ("folder", path.parent.stat().st_ino) == synced[-1]  # the rename, after it


def _folder_with(text: str):
    return lambda folder: (folder / "f.txt").write_text(text)


def test_a_folder_swap_never_leaves_a_moment_with_no_folder(tmp_path, monkeypatch):
    target = tmp_path / "ensemble"
    write_folder_atomically(target, _folder_with("old"))
    real_replace = os.replace
    seen = []

    def watching_replace(src, dst):
        real_replace(src, dst)
        seen.append(target.exists() or files._aside(target).exists())

    monkeypatch.setattr(os, "replace", watching_replace)
    write_folder_atomically(target, _folder_with("new"))
    assert seen == [True, True]  # after the old one went aside, and after the new one came in
    assert (target / "f.txt").read_text() == "new" and not files._aside(target).exists()


def test_a_crash_between_the_two_renames_leaves_the_old_folder_which_the_next_reader_gets_back(tmp_path, monkeypatch):
    target = tmp_path / "ensemble"
    write_folder_atomically(target, _folder_with("old"))
    real_replace = os.replace

    def crash_on_the_second_rename(src, dst):
        if Path(dst) == target:
            raise KeyboardInterrupt  # the process dies after the old folder went aside
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        write_folder_atomically(target, _folder_with("new"))
    monkeypatch.setattr(os, "replace", real_replace)
    assert not target.exists()
    with folder_lock(target):
        assert (target / "f.txt").read_text() == "old"


@pytest.mark.slow  # a subprocess
def test_kptune_imports_and_locks_where_fcntl_does_not_exist(tmp_path):
    """Windows has no fcntl: every stage must still import, and a folder still lock and swap."""
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import common.files, data.reader, data.cache, training.checkpoint, ensemble.folder, ensemble.build, report.page\n"
            f"common.files.write_folder_atomically(__import__('pathlib').Path({str(tmp_path / 'f')!r}), lambda d: (d / 'a').write_text('x'))\n"
            "print('ok')")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert (tmp_path / "f" / "a").read_text() == "x"
