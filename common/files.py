"""Atomic output: write to a temporary file beside the target, then rename, so a reader (or a crash)
never sees half a file."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import pandas as pd


def _write_atomically(path: Path, write: Callable[[TextIO], None]) -> Path:
    """write(file) into a temporary sibling, then rename it to `path`: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_csv_atomically(frame: pd.DataFrame, path: Path, *, index: bool = False, float_format: str | None = None) -> Path:
    return _write_atomically(path, lambda f: frame.to_csv(f, index=index, float_format=float_format))


def write_text_atomically(path: Path, text: str) -> Path:
    return _write_atomically(path, lambda f: f.write(text))


def write_folder_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Build the folder in a temporary sibling via fill(tmp), then swap it into place. Writers that
    finish together (two ensemble builds of one search) swap one at a time: the last one's folder
    stands, whole, never a mixture."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        fill(tmp)
        with folder_lock(target):
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


@contextmanager
def folder_lock(target: Path, shared: bool = False) -> Iterator[None]:
    """Hold the lock of a folder written by write_folder_atomically: exclusive to swap it in, shared to
    read it whole while another writer waits. Released when the file closes, also if the process dies.
    A folder whose parent cannot be written to cannot be swapped either: read it without a lock."""
    try:
        lock = open(Path(target).parent / f".{Path(target).name}.lock", "a")
    except OSError:
        if not shared:
            raise
        yield
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
