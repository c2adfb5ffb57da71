"""Shared fixtures: small synthetic data sets, and a cache folder of the tests' own; and the lanes.

Two lanes: `pytest -m "not slow"` runs the unit tests in seconds; the slow lane holds whatever runs a
Ray search (any test using the `ray_cluster`, `smoke_search` or `smoke_copy` fixture, marked here), a
subprocess or the browser (marked where they are written).

No test leaves anything to the next one, in whatever order they run (pytest-randomly shuffles them):
torch's generator and threads are restored after each, Ray's variables and HOME are set per fixture and
undone, and the shared smoke search is checked unchanged after every test that reads it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits

# Set before anything imports the reader: tests never touch the user's cache; gone when the process ends.
os.environ["KPTUNE_CACHE"] = tempfile.mkdtemp(prefix="kptune-test-cache-")
atexit.register(shutil.rmtree, os.environ["KPTUNE_CACHE"], ignore_errors=True)

from data.synthetic import write_dataset  # noqa: E402
from training import device  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _cores_shared_between_workers() -> Iterator[None]:
    """Each xdist worker computes on its share of the cores: torch's threads, BLAS's pool, and "every core" for
    a training run in the worker (threads=0: training.device.usable_cores). Two workers each taking every core
    would run 4 threads on 2 cores, and OpenBLAS's waiting threads made a numpy-heavy test take 10 times as
    long as alone. Subprocesses and Ray keep every core: with each worker pinned to its share (CPU affinity,
    which they inherit) the fresh-clone CI took 565 s against 453 s unpinned (one run each)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    threads, share = torch.get_num_threads(), max(1, device.usable_cores() // workers)
    torch.set_num_threads(share)
    with threadpool_limits(limits=share), pytest.MonkeyPatch.context() as patch:
        patch.setattr(device, "usable_cores", lambda: share)
        yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _torch_state_restored(_cores_shared_between_workers):
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
def _ray(tmp_path_factory):
    """One local Ray instance (2 CPUs, no dashboard) for every in-process search of a test process, set up as
    search.run sets up its own (trial processes at the driver's priority, not Ray's nice 15, where they
    would wait behind the other xdist worker's searches), with a home folder of its own: the token Ray
    makes goes there, never into the user's ~/.ray. The environment is as it was once Ray has started."""
    import ray

    from search.internals import RAY_ENVIRONMENT, set_ray_environment

    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        for name in RAY_ENVIRONMENT:
            environment.delenv(name, raising=False)  # the test runner's own settings must not change the test
        set_ray_environment()
        ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


@pytest.fixture
def ray_cluster(_ray, monkeypatch):
    """The test process's Ray, running; Ray's variables set as a search's driver sets them, for this test only."""
    from search.internals import RAY_ENVIRONMENT

    for name, value in RAY_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under folder: its size and time of last change."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def _smoke_search(_ray, tmp_path_factory) -> Path:
    from ensemble.build import main as build
    from search.run import main as search

    storage = tmp_path_factory.mktemp("runs")
    search(["--smoke", "--trials", "3", "--storage", str(storage), "--name", "smoke", "--no-dashboard", "--no-report"])
    build(["--max-mb", "10", "--runs-dir", str(storage), "--run", "smoke"])  # into the search folder, and its report with it
    return storage / "smoke"


@pytest.fixture
def smoke_search(_smoke_search, ray_cluster) -> Iterator[Path]:
    """One real 3-trial, 1-epoch smoke search with its ensemble (built within 10 MB) and report, shared by
    every test of a test process that reads it: its folder. A test that changes anything in it fails (what
    another test reads would then depend on the order they ran in): one that writes takes `smoke_copy`."""
    before = _files(_smoke_search)
    yield _smoke_search
    after = _files(_smoke_search)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"the test changed the shared smoke search (use smoke_copy): {changed}"


@pytest.fixture
def smoke_copy(_smoke_search, ray_cluster, tmp_path) -> Path:
    """A copy of the smoke search of this test's own (tmp_path/runs/smoke), to build, refit or report into."""
    return Path(shutil.copytree(_smoke_search, tmp_path / "runs" / "smoke"))


# Every part that carries state across epochs is on: dropout, EMA, one-cycle, AdamW, augmentation.
STATEFUL = {"arch": "cnn_gap", "dropout": 0.5, "ema": 0.5, "schedule": "onecycle", "optimizer": "adamw", "aug": 1.0,
            "batch_size": 16, "epochs": 3, "patience": 9, "device": "cpu"}


@pytest.fixture
def stateful_trainer(tiny_data):
    """Makes a Trainer on tiny_data with STATEFUL's settings (overridden by keyword), its process prepared
    as a trial's is (seeded; the autouse fixture above restores torch's state after the test)."""
    from training.config import TrainConfig
    from training.trainer import Trainer, prepare_process

    def make(**overrides):
        config = TrainConfig.from_dict({"train": str(tiny_data[0]), **STATEFUL, **overrides})
        prepare_process(config)
        return Trainer(config, config.load_split())

    return make


@pytest.fixture
def write_checkpoint():
    """Writes a complete checkpoint folder without training: `weights` (default: a fresh net of `arch`),
    no validation faces, and the random states a trial's training state holds."""
    import numpy as np

    from models import create_model
    from training.checkpoint import Checkpoint, ValPredictions
    from training.config import TrainConfig

    def write(folder: Path, arch: str = "cnn_gap", weights: dict[str, torch.Tensor] | None = None) -> Checkpoint:
        return Checkpoint.write(folder, weights=create_model(arch).state_dict() if weights is None else weights, config=TrainConfig(arch=arch),
                                val=ValPredictions(np.zeros(1), np.zeros((1, 30)), np.zeros((1, 30))), history=[],
                                train_state={"torch_rng": torch.get_rng_state(), "cuda_rng": torch.empty(0, dtype=torch.uint8)})

    return write


@dataclass
class Ran:
    """What a command did: its exit code and what it printed."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys) -> Callable[..., Ran]:
    """Runs a command's main() in this test's process, as `python -m ...` runs it (an exit with a message
    prints the message on stderr), without paying a new process's imports."""

    def run(main: Callable[[list[str]], object], *args: object) -> Ran:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code, message = 0, ""
        except SystemExit as end:
            code, message = (end.code, "") if isinstance(end.code, int) or end.code is None else (1, f"{end.code}\n")
        out, err = capsys.readouterr()
        return Ran(code or 0, out, err + message)

    return run


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


RAY_FIXTURES = {"_ray"}  # what the smoke search and ray_cluster stand on


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the test process's Ray are slow, and run in one xdist group (with `--dist loadgroup`, on one
    worker): one Ray and one smoke search for all of them, not one per worker."""
    for item in items:
        if RAY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("ray"))
