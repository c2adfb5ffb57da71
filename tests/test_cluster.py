"""A Ray cluster of separate node processes on this machine, started as the README's cluster section
tells users: a token made once (`ray get-auth-token --generate`, into ~/.ray/auth_token), then with
RAY_AUTH_MODE=token `ray start --head` and `ray start --address=...` for each worker node (HOME is a
folder of the test's own, so the user's token is never touched). Every node has one CPU, so two trials
at once run on two nodes. Searches join it with `--address`, or run in it as Ray jobs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from data.synthetic import write_dataset
from ensemble.build import main as build
from ensemble.ensemble import Ensemble
from search.results import SearchFolder

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).parent / "ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Head and worker nodes, each a `ray start --block` process in a process group of its own, which
    holds the whole node (raylet, agents, workers), with a temporary folder of its own as on separate
    machines (sharing one, a node that no longer needs a job's working directory deletes it under the
    other node's job)."""

    def __init__(self, home: Path) -> None:
        # every node and client: RAY_AUTH_MODE=token (without it `ray start --head` runs with no authentication
        # when ~/.ray/auth_token is missing, and a client sends no token)
        # and this environment's python first on PATH, as in the user's activated virtual environment;
        # trial processes at normal priority, not Ray's nice 15: on separate machines nothing else wants the
        # cores, here the other tests' processes would; a killed node found dead after 3 health checks 0.5 s apart
        # (Ray's default: 5 checks 3 s apart), each still given Ray's 10 s to answer, so a node slowed by the other
        # tests is not taken for dead
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {
            "HOME": str(home), "RAY_AUTH_MODE": "token", "RAY_worker_niceness": "0",
            "RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run([RAY, "get-auth-token", "--generate"], env=self.env, check=True, capture_output=True)
        self.port, self.dashboard_port = free_port(), free_port()
        self.nodes: dict[str, subprocess.Popen] = {}
        self.temp_dirs: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dashboard(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    def start(self, name: str, cpus: int = 1) -> None:
        """The head node (dashboard and jobs on), or a worker node that joins it."""
        self.temp_dirs.append(tempfile.mkdtemp(prefix=f"ray-{name}-"))  # a short path: Ray's sockets live under it
        node = ["--node-name", name, "--num-cpus", str(cpus), "--dashboard-agent-listen-port", str(free_port()), "--block", "--temp-dir", self.temp_dirs[-1]]
        if not self.nodes:
            command = ["--head", "--port", str(self.port), "--dashboard-host", "127.0.0.1", "--dashboard-port", str(self.dashboard_port),
                       "--ray-client-server-port", str(free_port())]
        else:
            command = ["--address", self.address]
        self.nodes[name] = subprocess.Popen([RAY, "start", *command, *node], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
        self.wait_for(lambda: self.node_ids().get(name), f"node {name} to join")

    def kill(self, name: str) -> None:
        """Every process of the node at once (SIGKILL), as when a machine dies."""
        os.killpg(self.nodes.pop(name).pid, signal.SIGKILL)

    def node_ids(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """Node name -> Ray node id of the nodes alive, from Ray's state API (`ray list nodes`); {} when refused
        or none is up yet."""
        listed = subprocess.run([RAY, "list", "nodes", "--address", self.dashboard, "--format", "json", "--filter", "state=ALIVE"],
                                env=env or self.env, capture_output=True, text=True)
        nodes = json.loads(listed.stdout) if listed.returncode == 0 and listed.stdout.startswith("[") else []  # else a sentence
        return {node["node_name"]: node["node_id"] for node in nodes}

    @staticmethod
    def wait_for(condition, what: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while not (value := condition()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.5)
        return value

    def stop(self) -> None:
        for name in list(self.nodes):
            self.kill(name)
        for folder in self.temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def _head_and_worker_a(home: Path, head_cpus: int = 1, worker_cpus: int = 1) -> Iterator[Cluster]:
    cluster = Cluster(home)
    try:
        cluster.start("head", head_cpus)
        cluster.start("worker-a", worker_cpus)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    """A head and worker-a, shared by the tests that leave both as they found them."""
    yield from _head_and_worker_a(tmp_path_factory.mktemp("home"))


@pytest.fixture
def own_cluster(tmp_path) -> Iterator[Cluster]:
    """A head that runs no trials (as a lab's head node often does) and worker-a with 2 CPUs, for one test
    that changes the cluster (kills a node, adds one): where its trials run does not depend on Ray's
    preference for the head node."""
    yield from _head_and_worker_a(tmp_path / "home", head_cpus=0, worker_cpus=2)


def test_the_cluster_refuses_a_client_without_its_token(cluster):
    assert set(cluster.node_ids()) == {"head", "worker-a"}
    assert cluster.node_ids(env=cluster.env | {"RAY_AUTH_MODE": "disabled"}) == {}


def test_joining_a_cluster_started_without_token_authentication_says_what_to_set_before_any_trial(tmp_path):
    """A lab's existing cluster, started without authentication, and a driver that sends a token (search.run's
    default): every trial's actor would die unstarted. The search stops at once, saying what to set."""
    cluster = Cluster(tmp_path / "home")
    cluster.env |= {"RAY_AUTH_MODE": "disabled"}
    try:
        cluster.start("head")
        run = subprocess.run([sys.executable, "-m", "search.run", "--smoke", "--address", cluster.address, "--storage", str(tmp_path / "runs"),
                              "--name", "s", "--no-dashboard", "--no-report"], cwd=REPO, env=cluster.env | {"RAY_AUTH_MODE": "token"},
                             capture_output=True, text=True, timeout=300)
    finally:
        cluster.stop()
    assert run.returncode != 0 and "runs without Ray's token authentication" in run.stderr and "set RAY_AUTH_MODE=disabled" in run.stderr, run.stderr
    from ray import tune

    assert "crashed" not in run.stdout + run.stderr and not tune.Tuner.can_restore(str(tmp_path / "runs" / "s"))  # no trial began


def submit(cluster: Cluster, job_id: str, *search_args: str) -> None:
    """`ray job submit --no-wait` of a smoke search, the repository as the job's working directory."""
    subprocess.run([RAY, "job", "submit", "--address", cluster.dashboard, "--submission-id", job_id, "--no-wait", "--working-dir", str(REPO), "--",
                    "python", "-m", "search.run", "--smoke", "--address", "auto", "--no-dashboard", "--no-report", *search_args],
                   env=cluster.env, check=True, capture_output=True, timeout=120)


def job(cluster: Cluster, job_id: str, command: str) -> str:
    """`ray job status` or `ray job logs` of a job: what the CLI printed."""
    return subprocess.run([RAY, "job", command, "--address", cluster.dashboard, job_id], env=cluster.env, capture_output=True, text=True).stdout


def ended(cluster: Cluster, job_id: str) -> str | None:
    """The job's status line once it has ended, else None."""
    status = job(cluster, job_id, "status")
    return status if any(end in status.lower() for end in ("succeeded", "failed", "stopped")) else None


def busy(trial) -> tuple[float, float]:
    """When the trial trained: from its first epoch's start to its last epoch's end (Ray's timestamps are
    whole seconds, so each end may be up to 1 s early)."""
    epochs = trial.history
    return float((epochs["timestamp"] - epochs["time_this_iter_s"]).min()), float(epochs["timestamp"].max())


def test_two_searches_submitted_as_ray_jobs_run_on_the_cluster_without_mixing_trials(cluster, tmp_path):
    storage = tmp_path / "storage"  # a folder every node reaches (here: the same disk)
    for name, trials in (("one", "3"), ("two", "4")):
        # 8 epochs, no stopping: with one-epoch trials a search can end (its trials one after another in one
        # reused process, on one node) before the other job starts; these keep both searches running at once
        submit(cluster, f"kptune-{name}", "--trials", trials, "--max-epochs", "8", "--grace-period", "8", "--storage", str(storage),
               "--name", name)
    for name in ("one", "two"):
        status = cluster.wait_for(partial(ended, cluster, f"kptune-{name}"), f"job {name} to end", timeout=600)
        assert "succeeded" in status.lower(), job(cluster, f"kptune-{name}", "logs")[-3000:]
        assert "leaderboard:" in job(cluster, f"kptune-{name}", "logs")  # the driver's log, as the dashboard's Jobs tab shows it

    searches = {name: SearchFolder(storage / name) for name in ("one", "two")}
    trials = {name: search.trials() for name, search in searches.items()}  # Tune's state, read once
    assert [len(trials["one"]), len(trials["two"])] == [3, 4]
    assert [len(searches["one"].study().trials), len(searches["two"].study().trials)] == [3, 4]
    assert all(t.status == "DONE" and t.checkpoint for t in trials["one"] + trials["two"])
    every = trials["one"] + trials["two"]
    assert {t.metrics.get("node") for t in every} <= set(cluster.node_ids().values())
    # Where Ray places a trial is its own choice (on a loaded machine one search may end before the other's
    # job starts), but each node has one CPU: two trials that trained at the same time did so on two nodes
    for i, a in enumerate(every):
        for b in every[i + 1:]:
            (a_start, a_end), (b_start, b_end) = busy(a), busy(b)
            if min(a_end, b_end) - max(a_start, b_start) > 2:  # seconds of overlap, beyond the timestamps' rounding
                assert a.metrics["node"] != b.metrics["node"], (a.id, b.id)
    print("trials per node:", {node: sum(t.metrics["node"] == node for t in every) for node in {t.metrics["node"] for t in every}})

    build(["--max-mb", "50", "--runs-dir", str(storage), "--run", "two", "--no-report"])
    assert Ensemble(searches["two"].ensemble_folder).manifest.members


def test_a_search_survives_losing_a_worker_node_and_uses_one_added_mid_search(own_cluster, tmp_path):
    """The worker node dies (every process SIGKILLed) while its trial runs: Ray's failure handling
    restarts that trial from its last checkpoint once a node has CPUs for it: worker-b, added while the
    search waits, takes it and the next trials, and the search ends with all its trials, one Optuna record each. The data file is
    gone while the trials run: they get the faces from the object store."""
    train, _ = write_dataset(tmp_path / "data", n=320, seed=1, n_test=1)
    storage, log = tmp_path / "storage", (tmp_path / "search.log").open("w+")
    search = subprocess.Popen(
        [sys.executable, "-m", "search.run", "--train", str(train), "--space", str(REPO / "configs" / "smoke.yaml"), "--trials", "3",
         "--max-epochs", "6", "--grace-period", "6", "--address", own_cluster.address, "--storage", str(storage), "--name", "lost",
         "--no-dashboard", "--no-report"],
        cwd=REPO, env=own_cluster.env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        own_cluster.wait_for(lambda: "data:" in Path(log.name).read_text(), "the search to parse its data")
        train.rename(train.with_suffix(".away"))  # parsed: no node reads it again
        folder, worker = SearchFolder(storage / "lost"), own_cluster.node_ids()["worker-a"]

        def running_on_worker() -> str | None:
            try:
                trials = folder.trials()
            except ValueError:  # Tune has not written its first state yet
                return None
            return next((t.id for t in trials if t.status == "UNFINISHED" and t.metrics.get("node") == worker and t.checkpoint), None)

        victim = own_cluster.wait_for(running_on_worker, "a trial to checkpoint on the worker node")
        # the search's driver paused while the nodes change, until Ray has marked worker-a dead (its heartbeats
        # missed: until then the killed trial's resources stay bound there) and worker-b has joined
        search.send_signal(signal.SIGSTOP)
        try:
            own_cluster.kill("worker-a")
            killed_at = time.time()
            own_cluster.start("worker-b", 2)
            own_cluster.wait_for(lambda: "worker-a" not in own_cluster.node_ids(), "Ray to mark worker-a dead")
        finally:
            search.send_signal(signal.SIGCONT)
        assert search.wait(timeout=600) == 0, Path(log.name).read_text()[-3000:]
    finally:
        search.kill()
        log.close()
    train.with_suffix(".away").rename(train)

    trials = {t.id: t for t in folder.trials()}
    assert len(trials) == 3 and {t.status for t in trials.values()} == {"DONE"}
    restarted = trials[victim]
    assert list(restarted.history["epoch"]).count(1) == 1  # from its checkpoint, not from scratch
    names = {node: name for name, node in own_cluster.node_ids().items()} | {worker: "worker-a"}
    assert names[restarted.metrics["node"]] == "worker-b"  # finished on the node added
    for trial in trials.values():  # shown with pytest -s: where each trial ran, and what the restart cost
        print(trial.id, "epochs on", [names[node] for node in trial.history["node"]])
    resumed = restarted.history[restarted.history["node"] != worker].iloc[0]
    print(f"{victim} resumed training {resumed['timestamp'] - resumed['time_this_iter_s'] - killed_at:.0f} s after its node was killed")
    assert len(folder.study().trials) == 3
    build(["--max-mb", "50", "--runs-dir", str(storage), "--run", "lost", "--no-report"])
    assert Ensemble(folder.ensemble_folder).manifest.members
