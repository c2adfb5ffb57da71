"""Durable atomic output: write to a temporary file beside the target, flush it to the disk, then rename
it over the target and flush the folder, so a reader, a crash or a power cut finds the old file or the
new one, never half of one. Folders are swapped the same way, the old one renamed aside first.

The locks come from `filelock`, which works on Linux, macOS and Windows alike."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pandas as pd
from filelock import FileLock


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk. Windows cannot open a folder: there the
    rename is as durable as the file system makes it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, write: Callable[[IO], None], binary: bool = False) -> Path:
    """write(file) into a temporary sibling, fsync it, rename it to `path` and fsync the folder: after
    a crash or a power cut `path` holds the old bytes or the new ones, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": ""})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def write_csv_atomically(frame: pd.DataFrame, path: Path, *, index: bool = False, float_format: str | None = None) -> Path:
    return write_atomically(path, lambda f: frame.to_csv(f, index=index, float_format=float_format))


def write_text_atomically(path: Path, text: str) -> Path:
    return write_atomically(path, lambda f: f.write(text))


def _aside(target: Path) -> Path:
    """Where the old folder waits while a new one is swapped in."""
    return target.parent / f".{target.name}.old"


def _restore_aside(target: Path) -> None:
    """A crash between a swap's two renames leaves the old folder aside and none in place: put it back.
    Call with the folder's lock held."""
    if not target.exists() and _aside(target).exists():
        os.replace(_aside(target), target)


def write_folder_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Build the folder in a temporary sibling via fill(tmp), flush its files, then swap it into place:
    the old folder is renamed aside, the new one renamed in, the old one deleted. Until the new one is
    in place the old one exists under one of the two names (a reader in between finds it: folder_lock).
    Writers that finish together (two ensemble builds of one search) swap one at a time: the last one's
    folder stands, whole, never a mixture."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        fill(tmp)
        _fsync_tree(tmp)
        with folder_lock(target):
            aside = _aside(target)
            if aside.exists():  # the leftover of a swap that crashed after its second rename
                shutil.rmtree(aside)
            if target.exists():
                os.replace(target, aside)
            os.replace(tmp, target)
            fsync_folder(target.parent)
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):  # files before the folders that hold them
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
        else:
            fsync_folder(path)
    fsync_folder(folder)


@contextmanager
def folder_lock(target: Path) -> Iterator[None]:
    """Hold the lock of a folder written by write_folder_atomically, to swap it in or to read it whole
    while a writer waits; a folder a crash left aside is put back first. Released when the block ends,
    also if the process dies. A folder whose parent cannot be written to cannot be swapped either: it is
    read without a lock."""
    target = Path(target)
    lock = FileLock(target.parent / f".{target.name}.lock")
    try:
        lock.acquire()
    except OSError:  # read-only: nobody can be writing here
        yield
        return
    try:
        _restore_aside(target)
        yield
    finally:
        lock.release()
