"""Shared fixtures: small synthetic data sets, and a cache folder of the tests' own; and the lanes.

Two lanes: `pytest -m "not slow"` runs the unit tests in seconds; the slow lane holds whatever runs a
Ray search (any test using the `ray_cluster` or `smoke_search` fixture, marked here), a subprocess or
the browser (marked where they are written).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

# Set before anything imports the reader: tests never touch the user's cache; gone when the process ends.
os.environ["KPTUNE_CACHE"] = tempfile.mkdtemp(prefix="kptune-test-cache-")
atexit.register(shutil.rmtree, os.environ["KPTUNE_CACHE"], ignore_errors=True)

from data.synthetic import write_dataset  # noqa: E402


@pytest.fixture(autouse=True)
def _torch_state_restored():
    """A test that seeds torch or sets its threads (training.trainer.prepare_process) leaves the next test
    torch's generator and thread count as it found them."""
    threads, rng = torch.get_num_threads(), torch.random.get_rng_state()
    yield
    torch.set_num_threads(threads)
    torch.random.set_rng_state(rng)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> tuple[Path, Path]:
    """train.csv (48 labelled faces) and test.csv (12 faces) in the users' formats."""
    return write_dataset(tmp_path_factory.mktemp("tiny"), n=48, seed=3, n_test=12)


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray instance (2 CPUs, no dashboard) for every in-process search of the session, set up as
    search.run sets up its own (trial processes at the driver's priority, not Ray's nice 15, where they
    would wait behind the other xdist worker's searches)."""
    import ray

    from search.internals import set_ray_environment

    set_ray_environment()
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_search(ray_cluster, tmp_path_factory) -> Path:
    """One real 3-trial, 1-epoch smoke search (shared by the search and ensemble tests): its folder."""
    from search.run import main

    storage = tmp_path_factory.mktemp("runs")
    main(["--smoke", "--trials", "3", "--storage", str(storage), "--name", "smoke", "--no-dashboard"])
    return storage / "smoke"


@pytest.fixture
def one_member_ensemble():
    """Writes an ensemble folder of one untrained cnn_small (manifest fields as given): enough for what a
    command checks, reads or predicts without a search."""
    from ensemble.folder import Manifest, Member, member_bytes, member_file, write_ensemble
    from models import create_model
    from training.config import TrainConfig

    def write(folder: Path, **manifest) -> Path:
        data = member_bytes(create_model("cnn_small").state_dict())
        member = Member("m", "cnn_small", member_file("m"), 1.0, len(data) / 1e6, 3.0,
                        TrainConfig(arch="cnn_small", label_origin=0.0).to_dict())
        defaults = dict(members=[member], val_rmse=3.0, total_mb=len(data) / 1e6, budget_mb=50, dtype="fp32", bf16=False, max_diff_px=0.0,
                        run="", data={}, device="cpu", heldout=None)
        return write_ensemble(folder, Manifest(**{**defaults, **manifest}), {"m": data})

    return write


RAY_FIXTURES = {"ray_cluster", "smoke_search"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if RAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
