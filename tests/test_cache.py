"""The parse cache (data.cache): capped, least recently used first out, and cleared by one command."""

import pytest

from data import cache
from data.reader import load_faces
from data.synthetic import write_dataset


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KPTUNE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _files(tmp_path, n):
    """n different training files of 48 faces: each parses to about 0.45 MB."""
    return [write_dataset(tmp_path / f"d{i}", n=48, seed=i, n_test=1)[0] for i in range(n)]


def test_the_cache_stays_under_its_cap_dropping_the_least_recently_used(own_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("KPTUNE_CACHE_MB", "1.0")  # room for two
    a, b, c = _files(tmp_path, 3)
    load_faces(a)
    load_faces(b)
    assert load_faces(a).from_cache  # a used again: b is now the least recently used
    load_faces(c)
    assert sum(p.stat().st_size for p in cache.parsed_files()) <= 1e6
    assert load_faces(a).from_cache and load_faces(c).from_cache
    assert not load_faces(b).from_cache  # dropped, so parsed again


def test_clearing_the_cache_empties_it(own_cache, tmp_path, capsys):
    load_faces(_files(tmp_path, 1)[0])
    assert cache.parsed_files()
    cache.main(["--clear"])
    assert "MB freed" in capsys.readouterr().out and not any(own_cache.iterdir())
