"""The parse cache: each CSV's parsed arrays as an .npz, keyed by the file's path, size and modification
time, so loading the same unchanged file again takes milliseconds. It lives in $KPTUNE_CACHE, else
~/.cache/kptune, never beside the data, and keeps at most $KPTUNE_CACHE_MB megabytes (default
CAP_MB) of parsed files: when a new one would pass that, the least recently used go first.

`python -m data.cache` says what it holds; `python -m data.cache --clear` empties it (parsed files and
the built-in demo data, which are made again when next needed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from common.files import write_atomically

from .faces import Faces

VERSION = "2"  # bump when the cached layout changes (2: the filled-in mask)
CAP_MB = 1000  # Kaggle's training.csv parses to ~65 MB: about 15 versions of it


def cache_dir() -> Path:
    """Where parsed files are cached: $KPTUNE_CACHE, else ~/.cache/kptune (never beside the data)."""
    return Path(os.environ.get("KPTUNE_CACHE", Path.home() / ".cache" / "kptune"))


def cap_bytes() -> float:
    return float(os.environ.get("KPTUNE_CACHE_MB", CAP_MB)) * 1e6


def _entry(path: Path) -> Path:
    stat = path.stat()
    key = f"{VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def load(path: Path) -> Faces | None:
    """The cached parse of `path` as it is now, or None."""
    entry = _entry(path)
    if not entry.is_file():
        return None
    with np.load(entry) as z:
        faces = Faces(z["images"], z["keypoints"] if z["keypoints"].size else None, z["ids"], str(path), from_cache=True,
                      filled=z["filled"] if z["filled"].size else None)
    _mark_used(entry)
    return faces


def _mark_used(entry: Path) -> None:
    """Its modification time says when it was last used: from the nanosecond clock, as a file system stamps
    times at its clock tick (milliseconds), where two uses in one tick would tie."""
    now = time.time_ns()
    os.utime(entry, ns=(now, now))


def save(path: Path, faces: Faces) -> None:
    """Cache the parse of `path`, making room under the cap first; an unwritable cache only costs speed."""
    entry = _entry(path)
    keypoints = np.empty(0, np.float32) if faces.keypoints is None else faces.keypoints
    filled = np.empty(0, bool) if faces.filled is None else faces.filled
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        make_room(faces.images.nbytes + keypoints.nbytes + filled.nbytes + faces.ids.nbytes)
        write_atomically(entry, lambda f: np.savez(f, images=faces.images, keypoints=keypoints, ids=faces.ids, filled=filled), binary=True)
        _mark_used(entry)
    except OSError as err:
        print(f"warning: cannot cache the parsed file in {entry.parent} ({err.strerror}); it will be parsed again next time",
              file=sys.stderr)


def parsed_files() -> list[Path]:
    """The cached parses, least recently used first."""
    return sorted(cache_dir().glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)


def make_room(incoming: int) -> None:
    """Delete the least recently used parses until `incoming` more bytes fit under the cap."""
    files = parsed_files()
    total = sum(p.stat().st_size for p in files)
    for old in files:
        if total + incoming <= cap_bytes():
            break
        total -= old.stat().st_size
        old.unlink(missing_ok=True)


def clear() -> int:
    """Empty the cache folder; returns the bytes freed."""
    folder = cache_dir()
    if not folder.is_dir():
        return 0
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    for item in folder.iterdir():
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    return freed


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m data.cache", description=__doc__.split("\n\n")[0])
    p.add_argument("--clear", action="store_true", help="delete everything in the cache")
    args = p.parse_args(argv)
    if args.clear:
        print(f"cleared {cache_dir()}: {clear() / 1e6:.1f} MB freed")
        return
    files = parsed_files()
    print(f"{cache_dir()}: {len(files)} parsed files, {sum(f.stat().st_size for f in files) / 1e6:.1f} MB "
          f"(cap {cap_bytes() / 1e6:g} MB, $KPTUNE_CACHE_MB); clear it with python -m data.cache --clear")


if __name__ == "__main__":
    main()
