"""A real Ray cluster on loopback for the Ray backend's tests and benchmark (#19).

A head (``--num-cpus 0 --memory 0``: no host lands there) and N workers, each a
``ray start`` of its own with its own ``--temp-dir``, so one node's processes are
known and can be killed alone. Every port is picked free, so two clusters (two
pytest-xdist workers) do not collide.

Loopback only, one address per node: each cluster takes a /24 of 127.0.0.0/8 (the
head ``127.a.b.1``, worker k ``127.a.b.(k+1)``; all of 127/8 is this machine's lo).
Not 127.0.0.1 itself: Ray turns a node IP or an ``--address`` of 127.0.0.1 (or
localhost) into the machine's routable address (``ray._private.services.
resolve_ip_for_localhost``) and would then dial it; any other loopback address it
takes as given. Distinct node IPs also make a job's hosts on different nodes have
different addresses, as on SageMaker.

Worker size: ``--num-cpus 4 --memory 17GiB`` holds exactly one ml.m5.xlarge host
(4 vCPUs, 16 GiB: ``simulator.hosts.ray_resources``), so a 2-host ml.m5.xlarge job
fits STRICT_SPREAD across the 2 workers and a third such host waits. Ray's CPU and
memory figures are logical (scheduling only): 2 × 17 GiB on a 24 GiB machine is fine.

    cluster = start_cluster()           # head + 2 workers, waits for 3 alive nodes
    cluster.address                     # "127.a.b.1:<port>" for ray.init(address=…)
    cluster.workers[0].kill()           # SIGKILL that node's raylet and processes
    cluster.alive_nodes()               # ray.nodes() (alive) from a short-lived driver
    cluster.revive()                    # a fresh worker for each killed one
    cluster.stop()                      # every process this cluster started, only those
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

WORKER_CPUS = 4
WORKER_MEMORY = 17 * 1024**3  # one ml.m5.xlarge (16 GiB) and headroom, not two
OBJECT_STORE = 80 * 1024**2  # Ray's minimum is 75 MiB; the tests pass no large objects
START_TIMEOUT = 120.0
TMP = Path("/tmp")
PREFIX = "smsim-ray-"  # a cluster's root: /tmp/smsim-ray-XXXX/{owner.json,head,w1,w2}
OWNER = "owner.json"
NO_USAGE_STATS = {"RAY_USAGE_STATS_ENABLED": "0"}
# The GCS declares a node dead after this many missed health checks: ~1.5 s instead of
# Ray's default ~15 s (3 s x 5), so a test of a lost node does not wait for it.
FAST_HEALTH_CHECK = {
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "500",
    "RAY_health_check_failure_threshold": "3",
}


class RayUnavailable(RuntimeError):
    """Ray cannot start here (not installed, or ``ray start`` fails): tests skip with it."""


def free_port() -> int:
    """A port free on every address (Ray's processes bind them all)."""
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def loopback_subnet() -> str:
    """``127.a.b`` for one cluster: a random /24 of the loopback range, not 127.0.0."""
    a, b = random.randint(1, 254), random.randint(0, 255)
    return f"127.{a}.{b}"


def ray_executable() -> str:
    """The ``ray`` CLI of this interpreter's environment."""
    try:
        import ray  # noqa: F401 - only whether it imports
    except Exception as exc:  # noqa: BLE001 - any import failure means no Ray here
        raise RayUnavailable(f"`import ray` fails: {exc}; pip install 'smsim[ray]'") from exc
    cli = Path(sys.executable).with_name("ray")
    if not cli.exists():
        raise RayUnavailable(f"no `ray` CLI beside {sys.executable}")
    return str(cli)


def processes_under(path: Path) -> list[psutil.Process]:
    """Every live process of the Ray node(s) under ``path``: those whose command line names
    it (gcs_server, raylet, log monitor, …) and their descendants (agents, ray:: workers)."""
    marker = f"{path}/"  # so that .../w1 does not match .../w10
    roots: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in f"{part}/" for part in proc.info["cmdline"] or ()):
                roots[proc.pid] = proc
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found = dict(roots)
    for proc in roots.values():
        try:
            found.update({c.pid: c for c in proc.children(recursive=True)})
        except psutil.NoSuchProcess:
            continue
    return list(found.values())


def end_processes(procs: list[psutil.Process], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL what is left after ``grace`` seconds."""
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def reap_orphans(base: Path = TMP) -> list[Path]:
    """Stop the clusters whose owner (the process that started them) is gone: a pytest
    killed before its teardown leaves ``ray start``'s daemons behind. Returns their roots."""
    reaped = []
    for root in base.glob(f"{PREFIX}*"):
        try:
            owner = json.loads((root / OWNER).read_text())
        except (OSError, ValueError):
            continue  # being created, or not one of ours
        if _process_alive(owner.get("pid"), owner.get("started")):
            continue
        end_processes(processes_under(root))
        shutil.rmtree(root, ignore_errors=True)
        reaped.append(root)
    return reaped


def _process_alive(pid: object, started: object) -> bool:
    try:
        return isinstance(pid, int) and psutil.Process(pid).create_time() == started
    except psutil.NoSuchProcess:
        return False


@dataclass
class RayNode:
    """One ``ray start`` of the cluster: its temp dir and the node id Ray gave it."""

    name: str
    temp_dir: Path
    ip: str
    node_id: str = ""
    killed: bool = False

    def processes(self) -> list[psutil.Process]:
        return processes_under(self.temp_dir)

    def kill(self) -> None:
        """SIGKILL the node's raylet and every process of it: the node is lost, as a
        machine that dies is (no graceful drain)."""
        self.killed = True
        procs = self.processes()
        for proc in procs:
            with suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(procs, timeout=10)


@dataclass
class RayCluster:
    """A head and its workers on loopback, started by :func:`start_cluster`."""

    root: Path
    subnet: str
    port: int
    head: RayNode
    workers: list[RayNode] = field(default_factory=list)
    ray: str = ""
    startup_seconds: float = 0.0
    worker_cpus: int = WORKER_CPUS
    worker_memory: int = WORKER_MEMORY
    started_workers: int = 0

    @property
    def address(self) -> str:
        return f"{self.head.ip}:{self.port}"

    def driver(self, code: str, timeout: float = 60) -> Any:
        """Run ``code`` in a short-lived driver connected to this cluster (a subprocess, so
        this process's own Ray connection, if any, is left alone); ``result`` is a name
        ``code`` sets to something JSON can carry, returned here."""
        script = (
            "import json, ray\n"
            f"ray.init(address={self.address!r}, logging_level='ERROR', log_to_driver=False)\n"
            f"{code}\n"
            "print('RESULT=' + json.dumps(result))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", script],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        for line in proc.stdout.splitlines():
            if line.startswith("RESULT="):
                return json.loads(line[len("RESULT=") :])
        raise RuntimeError(f"Ray driver failed ({proc.returncode}):\n{proc.stderr[-3000:]}")

    def nodes(self) -> list[dict[str, Any]]:
        """``ray.nodes()``, as a driver reads it."""
        return self.driver("result = ray.nodes()")

    def alive_nodes(self) -> list[dict[str, Any]]:
        return [n for n in self.nodes() if n.get("Alive")]

    def wait_for_alive(self, count: int, timeout: float = START_TIMEOUT) -> list[dict[str, Any]]:
        """Wait until exactly ``count`` nodes are alive; fill in the node ids."""
        deadline = time.monotonic() + timeout
        alive: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            alive = self.alive_nodes()
            if len(alive) == count:
                self._record_node_ids(alive)
                return alive
            time.sleep(0.5)
        raise RuntimeError(f"{len(alive)} of {count} Ray nodes alive after {timeout:.0f} s")

    def _record_node_ids(self, alive: list[dict[str, Any]]) -> None:
        # A node's session dir lies under its --temp-dir: that names which node is which.
        for node in (self.head, *self.workers):
            for info in alive:
                if str(info.get("ObjectStoreSocketName", "")).startswith(str(node.temp_dir)):
                    node.node_id = info["NodeID"]

    def add_workers(self, count: int) -> list[RayNode]:
        """Start ``count`` workers at once (``ray start`` takes seconds each)."""
        nodes = []
        for _ in range(count):
            self.started_workers += 1
            n = self.started_workers
            nodes.append(RayNode(f"worker-{n}", self.root / f"w{n}", f"{self.subnet}.{n + 1}"))
        role = ["--address", self.address, "--num-cpus", str(self.worker_cpus)]
        role += ["--memory", str(self.worker_memory)]
        self.workers += nodes
        _ray_start(self.ray, nodes, role)
        return nodes

    def revive(self) -> None:
        """Replace every killed worker with a fresh one (a new node id) and wait for them."""
        dead = [w for w in self.workers if w.killed]
        if not dead:
            return
        for node in dead:
            self.workers.remove(node)
        self.add_workers(len(dead))
        self.wait_for_alive(1 + len(self.workers))

    def stop(self) -> None:
        """End this cluster's processes (SIGTERM, then SIGKILL): only those whose command
        line names one of its temp dirs, and their children; never another Ray."""
        end_processes([p for node in (*self.workers, self.head) for p in node.processes()])
        shutil.rmtree(self.root, ignore_errors=True)


def _node_ports() -> list[str]:
    """Every port a node would otherwise take from Ray's fixed defaults, picked free."""
    options = [
        "--node-manager-port",
        "--object-manager-port",
        "--metrics-export-port",
        "--dashboard-agent-listen-port",
        "--dashboard-agent-grpc-port",
        "--runtime-env-agent-port",
    ]
    args: list[str] = []
    for option in options:
        args += [option, str(free_port())]
    return args


def _env() -> dict[str, str]:
    return {**os.environ, **NO_USAGE_STATS, **FAST_HEALTH_CHECK}


def _ray_start(ray: str, nodes: list[RayNode], role: list[str]) -> None:
    """``ray start`` of each node at once; RayUnavailable naming the first that failed."""
    running = []
    for node in nodes:
        node.temp_dir.mkdir(parents=True, exist_ok=True)
        command = [ray, "start", *role, "--node-ip-address", node.ip]
        command += ["--temp-dir", str(node.temp_dir)]
        command += ["--object-store-memory", str(OBJECT_STORE), "--disable-usage-stats"]
        command += _node_ports()
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        running.append((node, subprocess.Popen(command, env=_env(), **pipes)))
    failed = []
    for node, proc in running:
        try:
            _, err = proc.communicate(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if proc.returncode != 0:
            failed.append(f"`ray start` of {node.name} failed ({proc.returncode}):\n{err[-3000:]}")
    if failed:
        raise RayUnavailable(failed[0])


def start_cluster(root: Path | None = None, workers: int = 2) -> RayCluster:
    """A head (no CPUs) and ``workers`` workers under ``root``, all alive on return.

    ``root`` defaults to a fresh directory in /tmp: Ray's Unix sockets live under each
    node's session dir, and a socket path may not exceed 107 bytes (pytest's tmp_path is
    too deep). Raises RayUnavailable when Ray is missing or a node does not start (what
    was started is stopped first)."""
    ray = ray_executable()
    started = time.perf_counter()
    reap_orphans()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=TMP)) if root is None else root
    me = psutil.Process()
    (root / OWNER).write_text(json.dumps({"pid": me.pid, "started": me.create_time()}))
    subnet = loopback_subnet()
    head_node = RayNode("head", root / "head", f"{subnet}.1")
    cluster = RayCluster(root=root, subnet=subnet, port=free_port(), head=head_node, ray=ray)
    try:
        head = ["--head", "--port", str(cluster.port), "--num-cpus", "0", "--memory", "0"]
        head += ["--include-dashboard", "false", "--ray-client-server-port", str(free_port())]
        _ray_start(ray, [cluster.head], head)
        cluster.add_workers(workers)
        cluster.wait_for_alive(1 + workers)
    except BaseException:
        cluster.stop()
        raise
    cluster.startup_seconds = time.perf_counter() - started
    return cluster


@contextmanager
def ray_cluster(root: Path | None = None, workers: int = 2) -> Iterator[RayCluster]:
    """:func:`start_cluster`, stopped on exit whatever happened."""
    cluster = start_cluster(root, workers)
    try:
        yield cluster
    finally:
        cluster.stop()
