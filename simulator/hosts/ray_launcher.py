"""The Ray launcher (#19): a job's hosts as Ray actors on an existing Ray cluster.

The simulator side of a Ray host (the node side is ``hosts/ray_node.py``):

* ``reserve`` (the job still Starting): one placement group of one bundle per host, each
  the host's instance type in Ray resources (``hosts/ray_resources.py``), so a cluster
  runs as many jobs at once as it holds and a job waits for room rather than
  overcommitting. STRICT_SPREAD (every host on its own node, as every SageMaker host is
  its own instance) when enough alive nodes could each hold a host, else SPREAD (hosts
  share nodes); the job's log says which and why. Each host then runs on its bundle's node
  through smsim's agent there (``ray_node.NodeAgent``, one per node and process, started on
  first use and asked for its node's IP).
* ``view``: ``/opt/ml`` — commands are built in the container's terms; the node's local
  launcher runs them in a namespace as they are, or maps them in fallback mode.
* ``address(host)``: the IP of the host's node (torchrun's ``--master_addr``,
  ``MASTER_ADDR``); on the node, ``/etc/hosts`` names each ``algo-k`` by it too.
* ``run``: packs the host's tree (config files and code only: its channels and
  checkpoints are the node's to download, ``hosts/node_plan.py``) up to a cap, calls the
  agent's ``start`` and, every 0.1 s, drains its lines into the same ``HostLines`` a local
  process's pipes feed (log files, metrics, CloudWatch, the console). A stop of the job is
  passed on (``stop``); MaxRuntimeInSeconds is enforced on the node. The host's tree
  stays on its node (only ``output/failure`` and ``output/message`` come back, for the
  description); the artifacts are uploaded from the nodes (``upload_archive``: one
  model.tar.gz / output.tar.gz packed on the first host's node, the other hosts' parts
  sent there node to node through Ray's object store; ``upload_dir``: a processing
  output, from its host's node), as each SageMaker instance uploads its own. An agent
  whose node is lost ends its hosts with "host algo-k lost: Ray node … died: …".
* ``release``: the hosts' trees removed from their nodes and the placement group removed
  (the agents stay for the next jobs).

Ray is imported here only: the local backend needs nothing of it. One ``ray.init`` per
process (``connect``); the nodes run the same environment as the simulator (a cluster
started from this venv, or one with smsim installed on every node).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.hosts.launcher import (
    Booking,
    HostCommand,
    HostLines,
    ProcessResult,
    Supervision,
)
from simulator.hosts.layout import CONTAINER_ROOT, HostLayout
from simulator.hosts.local import requested_mode
from simulator.hosts.ray_node import NOTE, OUT, NodeAgent, pack_tree, unpack_tree
from simulator.hosts.ray_resources import bundle_of, fits, load_overrides, ray_resources, show
from simulator.s3 import S3Uri

NEEDS_RAY = "backend 'ray' needs Ray: pip install 'smsim[ray]'"
ADDRESS_ENV = "RAY_ADDRESS"  # Ray's own variable for the cluster to connect to
SHIP_CAP_ENV = "SMSIM_RAY_MAX_SHIP_MB"
DEFAULT_SHIP_CAP_MB = 32  # config files + code: a few MB; data goes through channels
POLL_SECONDS = 0.1  # how often a host's lines (and its end) are fetched from its node
# An agent's calls served at once (each returns at once: hosts run in threads of their own).
AGENT_CONCURRENCY = 8

_connect_lock = threading.Lock()
_connected: list[str] = []  # the address this process's ray.init reached
_agents_lock = threading.Lock()
_agents: dict[str, tuple[Any, str]] = {}  # node id → (its NodeAgent, its IP)


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SmsimError(NEEDS_RAY) from None
    return ray


def connect(address: str | None) -> tuple[Any, str]:
    """``ray.init`` on the cluster at ``address`` (else ``$RAY_ADDRESS``), once per
    process; (the ray module, the address). A cluster that cannot be reached is a clear
    error at once, not a hang."""
    ray = import_ray()
    address = address or os.environ.get(ADDRESS_ENV)
    if not address:
        raise SmsimError(
            "backend 'ray' needs the cluster's address: ray_address='HOST:PORT' "
            f"(smsim serve --ray-address, or ${ADDRESS_ENV}), as `ray start --head` prints it"
        )
    _probe(address)
    with _connect_lock:
        if _connected:
            if _connected[0] != address:
                raise SmsimError(
                    f"this process is connected to the Ray cluster at {_connected[0]}; "
                    f"one process reaches one cluster, not also {address}"
                )
            return ray, address
        try:
            # log_to_driver off: the hosts' lines come back through the actors, once.
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - any refusal of Ray's, in one message
            raise SmsimError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
        _connected.append(address)
    # The nodes' agents start now, beside whatever the caller does next, not in the first
    # jobs' time (a job on a node whose agent is not there yet waits for it).
    threading.Thread(target=_warm_agents, args=(ray,), name="smsim-ray-agents", daemon=True).start()
    return ray, address


def disconnect() -> None:
    """``ray.shutdown`` of this process's connection and its agents forgotten: the next
    ``connect`` may reach another cluster (the tests' cluster stopped and started again)."""
    ray = import_ray()
    with _connect_lock, _agents_lock:
        ray.shutdown()
        _connected.clear()
        _agents.clear()


def _warm_agents(ray: Any) -> None:
    """Start the agent of every alive node that can hold a host (one with CPUs or GPUs)."""
    with contextlib.suppress(Exception):  # a node that cannot start one fails its jobs later
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        able = {n["NodeID"] for n in nodes if {"CPU", "GPU"} & set(n.get("Resources", {}))}
        agents_on(ray, able)


def _probe(address: str) -> None:
    """Refuse an address where nothing listens (ray.init would retry for a long time)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", a ray:// URL: Ray's own resolution
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        raise SmsimError(
            f"no Ray cluster at {address}: {exc.strerror or exc}; start one "
            "(`ray start --head`) and pass the address it prints"
        ) from None


def ray_launcher(address: str | None, overrides: Any, container_mode: str | None) -> RayLauncher:
    """A launcher for one job on the cluster at ``address`` (``overrides``: of the instance
    type → Ray resources table; ``container_mode``: how each node starts its hosts)."""
    # The simulator's setting (the argument, else its $SMSIM_CONTAINER_MODE) applies on every
    # node, as to local hosts; a bad mode is refused by name, before Ray.
    mode, _ = requested_mode(container_mode)
    ray, address = connect(address)
    return RayLauncher(ray, address, load_overrides(overrides), mode)


class RayLauncher:
    """Each host of one job on a Ray node's agent (see the module docstring)."""

    mode = "ray"
    stages_on_node = True

    def __init__(self, ray: Any, address: str, overrides: Any, container_mode: str) -> None:
        self.ray = ray
        self.address_of_cluster = address
        self.overrides = overrides
        self.container_mode = container_mode
        self.reason = (
            f"Ray cluster at {address}; each node runs its hosts in container mode {container_mode}"
        )
        self._group: Any = None
        self._job = ""
        self._agents: dict[str, Any] = {}  # host → the agent of its node
        self._nodes: dict[str, tuple[str, str]] = {}  # host → (node id, node IP)
        self._ran: set[str] = set()  # hosts whose tree is on their node (until release)

    # -- capacity ---------------------------------------------------------------------
    def reserve(self, booking: Booking) -> None:
        from ray.util.placement_group import placement_group

        job, instance_types = booking.job, booking.instance_types
        stop_event, log = booking.stop_event, booking.log

        hosts = list(instance_types)
        bundles = [bundle_of(ray_resources(instance_types[h], self.overrides)) for h in hosts]
        alive = [n for n in self.ray.nodes() if n.get("Alive")]
        capable = [n for n in alive if all(fits(n.get("Resources", {}), b) for b in bundles)]
        if not capable:
            kinds = sorted(set(instance_types.values()))
            raise SmsimError(
                f"no node of the Ray cluster at {self.address_of_cluster} can hold a "
                f"{'/'.join(kinds)} host ({show(bundles[0])}); its {len(alive)} alive node(s) "
                f"have {'; '.join(show(n.get('Resources', {})) for n in alive) or 'nothing'}. "
                "Add a node that large, or map the instance type to less (ray_resources=)"
            )
        if len(capable) >= len(hosts):
            strategy = "STRICT_SPREAD"
            why = f"{len(capable)} node(s) can each hold a host: one host per node"
        else:
            strategy = "SPREAD"
            why = f"only {len(capable)} node(s) can hold a host: hosts share nodes"
        log(
            f"Ray placement group of {len(hosts)} bundle(s) ({show(bundles[0])} each): "
            f"{strategy} ({why})"
        )
        self._group = placement_group(bundles, strategy=strategy, name=f"smsim:{job}")
        ready = self._group.ready()
        started = time.monotonic()
        waiting = False
        while not self.ray.wait([ready], timeout=POLL_SECONDS)[0]:
            if stop_event.is_set():
                return  # the run sees the stop and ends the job Stopped
            if not waiting and time.monotonic() - started > 1.0:
                log("waiting for room on the Ray cluster (every bundle of the group at once)")
                waiting = True
        from ray.util.placement_group import placement_group_table

        self._job = job
        bundle_nodes = placement_group_table(self._group)["bundles_to_node_id"]
        agents = agents_on(self.ray, {bundle_nodes[k] for k in range(len(hosts))})
        for index, host in enumerate(hosts):
            node_id = bundle_nodes[index]
            agent, ip = agents[node_id]
            self._agents[host] = agent
            self._nodes[host] = (node_id, ip)
            log(f"{host} on node {node_id[:8]} ({ip})")

    def release(self) -> None:
        from ray.util.placement_group import remove_placement_group

        agents, self._agents = dict(self._agents), {}
        self._ran.clear()
        with contextlib.suppress(Exception):  # a lost node's trees went with it
            nodes = {id(agent): agent for agent in agents.values()}  # one call per node
            self.ray.get([agent.forget.remote(self._job) for agent in nodes.values()], timeout=30)
        if self._group is not None:
            with contextlib.suppress(Exception):
                remove_placement_group(self._group)
            self._group = None

    # -- the HostLauncher interface ---------------------------------------------------
    def view(self, layout: HostLayout) -> HostLayout:
        return HostLayout(Path(CONTAINER_ROOT))

    def address(self, host: str) -> str:
        return self._nodes[host][1]

    def run(self, command: HostCommand, watch: Supervision) -> ProcessResult:
        host = command.host
        if host not in self._agents:
            return ProcessResult(None, "Stopped", [], 0.0)  # stopped while waiting for room
        tree = pack_tree(command.layout.root)
        cap = float(os.environ.get(SHIP_CAP_ENV) or DEFAULT_SHIP_CAP_MB)
        if len(tree) > cap * 1024 * 1024:
            raise SmsimError(
                f"{host}'s config files and code are {len(tree) / 1024 / 1024:.1f} MB, over "
                f"the Ray backend's {cap:g} MB (${SHIP_CAP_ENV}): pass data through a channel"
            )
        spec = {
            "job": self._job,
            "host": host,
            "hosts": list(command.hosts),
            "addresses": {h: ip for h, (_, ip) in self._nodes.items()},
            "argv": command.argv,
            "cwd": command.cwd,
            "env": command.env,
            "plan": command.plan.to_wire() if command.plan is not None else _no_plan(),
            "max_runtime": watch.max_runtime,
            "grace_seconds": watch.grace_seconds,
            "container_mode": self.container_mode,
        }
        agent = self._agents[host]
        key = f"{self._job}/{host}"
        lines = HostLines(
            watch.log_dir,
            watch.prefix,
            sink=watch.sink,
            metrics=watch.metrics,
            on_line=watch.on_line,
        )
        start = time.monotonic()
        try:
            self.ray.get(agent.start.remote(key, spec, tree))
            self._ran.add(host)
            stopping = False
            while (out := self._drain(agent, key, lines, watch)) is None:
                if not stopping and watch.stop_event is not None and watch.stop_event.is_set():
                    agent.stop.remote(key)
                    stopping = True
                time.sleep(POLL_SECONDS)
        except self.ray.exceptions.RayActorError as exc:  # its agent died with its node
            with _agents_lock:
                _agents.pop(self._nodes[host][0], None)  # a dead agent serves no more hosts
            why = self._lost(host, exc)
            return ProcessResult(None, None, [why], time.monotonic() - start, lost=why)
        finally:
            lines.close()
        if "error" in out:  # smsim failed on the node (staging, …): the host could not run
            raise SmsimError(out["error"])
        unpack_tree(out["returns"], command.layout.root)
        return ProcessResult(
            out["exit_code"], out["stop_reason"], list(out["stderr_tail"]), out["duration"]
        )

    # -- uploads from the nodes (jobs with ``stages_on_node``) ---------------------------
    def upload_archive(self, part: str, target: S3Uri) -> list[str]:
        """Every host's ``part`` (e.g. ``model``) in one tar.gz at ``target``, packed and
        uploaded on the first host's node: the other hosts' parts travel there node to node
        through Ray's object store, never through the simulator. The clash warnings."""
        hosts = list(self._agents)  # the job's host order (reserve)
        self._require_trees(hosts)
        parts = [self._agents[h].pack.remote(self._key(h), part) for h in hosts[1:]]
        first = self._agents[hosts[0]]
        call = first.upload_archive.remote(self._key(hosts[0]), part, str(target), hosts, *parts)
        return self._get(call, hosts)

    def upload_dir(self, host: str, part: str, target: S3Uri) -> None:
        """Upload the host's ``part`` directory under the prefix ``target``, from its node."""
        self._require_trees([host])
        self._get(self._agents[host].upload_dir.remote(self._key(host), part, str(target)), [host])

    # -- internals --------------------------------------------------------------------
    def _require_trees(self, hosts: list[str]) -> None:
        missing = [h for h in hosts if h not in self._ran]
        if missing or not hosts:
            raise SmsimError(f"{', '.join(missing) or 'no host'}: no tree on a Ray node (not run)")

    def _key(self, host: str) -> str:
        return f"{self._job}/{host}"

    def _get(self, call: Any, hosts: list[str]) -> Any:
        """``ray.get`` of an agent's call; a lost node (or smsim's error there) as one
        SmsimError naming the host."""
        try:
            return self.ray.get(call)
        except self.ray.exceptions.RayActorError as exc:  # a node lost since its host ran
            alive = {n.get("NodeID") for n in self.ray.nodes() if n.get("Alive")}
            host = next((h for h in hosts if self._nodes[h][0] not in alive), hosts[0])
            raise SmsimError(self._lost(host, exc)) from None
        except self.ray.exceptions.RayTaskError as exc:  # smsim's own error on the node
            raise SmsimError(f"on {hosts[0]}'s Ray node: {exc.cause}") from None

    def _drain(
        self, agent: Any, key: str, lines: HostLines, watch: Supervision
    ) -> dict[str, Any] | None:
        """Feed the host's new lines; how it ended, None while it runs."""
        try:
            batch, result = self.ray.get(agent.drain.remote(key), timeout=10)
        except self.ray.exceptions.GetTimeoutError:
            return None  # a slow node: the lines come with the next drain
        for kind, text in batch:
            if kind == NOTE:
                watch.note(text)
            else:
                lines.feed(text, kind != OUT)
        return result

    def _lost(self, host: str, exc: BaseException) -> str:
        node_id, ip = self._nodes[host]
        text = " ".join(str(exc).split())
        why = f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
        with contextlib.suppress(Exception):
            for node in self.ray.nodes():
                if node.get("NodeID") == node_id and not node.get("Alive"):
                    why = node.get("DeathReasonMessage") or "the node is no longer alive"
        return f"host {host} lost: Ray node {node_id[:8]} ({ip}) died: {why}"


def agents_on(ray: Any, node_ids: set[str]) -> dict[str, tuple[Any, str]]:
    """The agent of each node (those missing started there at once) and its IP."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    with _agents_lock:
        new = {}
        for node_id in node_ids - set(_agents):
            new[node_id] = (
                ray.remote(NodeAgent)
                .options(
                    num_cpus=0,  # the hosts' bundles hold their resources; the agent none
                    max_concurrency=AGENT_CONCURRENCY,
                    max_restarts=0,  # a lost node ends its hosts: their jobs fail, naming it
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
                )
                .remote()
            )
        if new:
            try:
                places = ray.get([a.where.remote() for a in new.values()], timeout=120)
            except ray.exceptions.GetTimeoutError:
                raise SmsimError(
                    "smsim's agents on the Ray nodes did not start within 120 s (is smsim "
                    "importable there? the nodes need the simulator's environment)"
                ) from None
            for (node_id, agent), (_, ip) in zip(new.items(), places, strict=True):
                _agents[node_id] = (agent, ip)
        return {node_id: _agents[node_id] for node_id in node_ids}


def _no_plan() -> dict[str, Any]:
    return {"downloads": [], "syncs": [], "returns": []}
