"""The node side of the Ray backend (#19): smsim's agent on each node runs the hosts Ray
placed there.

For each host (``NodeAgent.run``) it does on its node what a SageMaker instance does for
its container:

1. lays the host tree under a node-local root (``$SMSIM_RAY_NODE_DIR``, default
   ``<tmp>/smsim-ray/<node id[:12]>``) as ``<job>/<host>/``, from the config files and code
   the simulator packed (``pack_tree``);
2. stages the host's channels and checkpoints from S3 with its own S3 client
   (``hosts/node_plan.py``: the simulator planned them), and keeps the checkpoint /
   TensorBoard / Continuous-output directories synced to S3 while the entry point runs;
3. runs the entry point with this node's local launcher (``hosts/local.py``: a mount
   namespace where the tree is ``/opt/ml`` and ``/etc/hosts`` names every host of the job
   by its node's address, else fallback mode), enforcing MaxRuntimeInSeconds and stop here;
4. packs what the simulator uploads (``model/``, ``output/data``, processing outputs, the
   failure / message files) and returns it through Ray's object store, then removes the tree.

One agent per node and simulator process, not one actor per host: a new actor is a new
worker process (Ray, then smsim imported: over a second per host here), which would be
paid by every job; the host's resources are held by its placement-group bundle, the
agent holds none. A host's lines (stdout/stderr, and smsim's own notes) wait in a queue
that the simulator drains (``drain``) while ``run`` runs: the actor is threaded
(``max_concurrency``), so ``drain`` and ``stop`` are served beside every ``run``. smsim
and the job's interpreter must be importable on the node (see the README).
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import queue
import shutil
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.hosts.launcher import HostCommand, Supervision
from simulator.hosts.layout import HostLayout
from simulator.hosts.node_plan import NodePlan, carry_out, start_syncs
from simulator.s3 import finish_all, unpack_tar_gz

NODE_DIR_ENV = "SMSIM_RAY_NODE_DIR"
OUT, ERR, NOTE = "out", "err", "note"  # the kinds of line ``drain`` returns


def pack_tree(root: Path, paths: list[str] | None = None) -> bytes:
    """A tar (in memory) of ``paths`` of ``root`` (relative; missing ones skipped), or of
    the whole tree: what goes to a node before the run and comes back after it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for rel in paths if paths is not None else ["."]:
            path = root / rel
            if path.exists():
                tar.add(path, arcname=rel)
    return buf.getvalue()


def unpack_tree(data: bytes, root: Path) -> None:
    """Extract a ``pack_tree`` tar into ``root`` (``s3.unpack_tar_gz``'s safety rules)."""
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root.parent, suffix=".tar")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        unpack_tar_gz(Path(tmp), root)
    finally:
        Path(tmp).unlink(missing_ok=True)


def node_root(node_id: str) -> Path:
    """Where this node lays its host trees (one directory per node: several nodes of a
    loopback cluster share a machine)."""
    base = os.environ.get(NODE_DIR_ENV)
    return Path(base) if base else Path(tempfile.gettempdir()) / "smsim-ray" / node_id[:12]


def node_s3_client(env: dict[str, str]) -> Any:
    """An S3 client on the job's S3 endpoint, with the job's (dummy) credentials: the
    endpoint the host's own processes use (one per endpoint and agent: clients are
    thread-safe, and making one costs a tenth of a second)."""
    url = (
        env.get("AWS_ENDPOINT_URL_S3") or env.get("S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL")
    )
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1"
    return _s3_client(url, *(env.get(k) for k in keys), region)


@functools.lru_cache(maxsize=16)
def _s3_client(
    url: str | None, key_id: str | None, secret: str | None, token: str | None, region: str
) -> Any:
    import boto3

    from simulator.aws import CLIENT_CONFIG

    return boto3.session.Session(
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=region,
    ).client("s3", endpoint_url=url, config=CLIENT_CONFIG)


@dataclass
class _Host:
    """One host this agent runs: its queued lines and its stop."""

    lines: queue.SimpleQueue[tuple[str, str]] = field(default_factory=queue.SimpleQueue)
    stop: threading.Event = field(default_factory=threading.Event)
    finished: bool = False


class NodeAgent:
    """smsim on one node (made a Ray actor by ``hosts/ray_launcher.py``): runs any number of
    hosts there at once, each keyed ``<job>/<host>``, one thread each."""

    def __init__(self) -> None:
        import ray

        self.node_id = ray.get_runtime_context().get_node_id()
        self.ip = ray.util.get_node_ip_address()
        self._hosts: dict[str, _Host] = {}
        self._lock = threading.Lock()

    def where(self) -> tuple[str, str]:
        """(node id, node IP) of this node."""
        return self.node_id, self.ip

    def stop(self, key: str) -> None:
        """Stop the host's entry point (SIGTERM, the grace period, SIGKILL), as
        StopTrainingJob does."""
        self._host(key).stop.set()

    def drain(self, key: str) -> list[tuple[str, str]]:
        """Every line of the host queued since the last call: (OUT | ERR | NOTE, text). The
        host is forgotten by the first drain after its run ended (nothing is left)."""
        host = self._host(key)
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(host.lines.get_nowait())
        if host.finished:
            with self._lock:
                self._hosts.pop(key, None)
        return out

    def run(self, key: str, spec: dict[str, Any], tree: bytes) -> dict[str, Any]:
        """Stage, run and pack one host (see the module docstring); how it ended."""
        state = self._host(key)
        try:
            return self._run(state, spec, tree)
        finally:
            state.finished = True

    def _run(self, state: _Host, spec: dict[str, Any], tree: bytes) -> dict[str, Any]:
        from simulator.hosts.local import local_launcher

        job, host = spec["job"], spec["host"]

        def note(message: str) -> None:
            state.lines.put((NOTE, message))

        root = node_root(self.node_id) / job / host
        shutil.rmtree(root, ignore_errors=True)  # a restarted job starts from a fresh tree
        try:
            unpack_tree(tree, root)
            note(f"on Ray node {self.node_id[:8]} ({self.ip}): host tree {root}")
            plan = NodePlan.from_wire(root, spec["plan"])
            s3 = node_s3_client(spec["env"]) if plan.downloads or plan.syncs else None
            if plan.downloads:
                count = carry_out(plan, s3)
                note(f"staged {count} object(s) from S3 on this node")
            syncs = start_syncs(plan, s3) if plan.syncs else []
            launcher = local_launcher(spec["container_mode"])
            note(f"container mode on this node: {launcher.mode} ({launcher.reason})")
            command = HostCommand(
                host,
                tuple(spec["hosts"]),
                HostLayout(root),
                list(spec["argv"]),
                spec["cwd"],
                dict(spec["env"]),
                addresses=spec["addresses"],
            )
            watch = Supervision(
                log_dir=root.parent / "node-logs",
                prefix=f"{job}/{host}",
                sink=lambda line: None,  # the lines go back through ``tap``
                note=note,
                max_runtime=spec["max_runtime"],
                stop_event=state.stop,
                grace_seconds=spec["grace_seconds"],
                tap=lambda line, is_err: state.lines.put((ERR if is_err else OUT, line)),
            )
            result = launcher.run(command, watch)
            try:
                finish_all(syncs)  # the final sync, as the service's at the job's end
            except Exception as exc:  # noqa: BLE001 - the job's outcome is the process's
                note(f"checkpoint sync from this node failed: {exc}")
            return {
                "exit_code": result.exit_code,
                "stop_reason": result.stop_reason,
                "stderr_tail": result.stderr_tail,
                "duration": result.duration,
                "artifacts": pack_tree(root, plan.returns),
            }
        finally:
            _clean(root)

    def _host(self, key: str) -> _Host:
        with self._lock:
            return self._hosts.setdefault(key, _Host())


def _clean(root: Path) -> None:
    """Remove a host tree, its job's directory once no other host of it is left here, and
    the node's directory once empty (a host starting meanwhile makes it again)."""
    shutil.rmtree(root, ignore_errors=True)
    job_dir = root.parent
    with contextlib.suppress(OSError):
        if not [p for p in job_dir.iterdir() if p.is_dir() and p.name != "node-logs"]:
            shutil.rmtree(job_dir, ignore_errors=True)
        job_dir.parent.rmdir()  # only when empty
