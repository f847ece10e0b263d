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
4. keeps the tree once the entry point has ended, returning only the small files the
   description reads (``output/failure``, ``output/message``); the simulator then has the
   node upload the artifacts itself (``upload_archive``: model.tar.gz / output.tar.gz, the
   other hosts' parts brought to the first host's node through Ray's object store, not
   through the simulator; ``upload_dir``: a processing output), as SageMaker's instances
   upload theirs, and ``forget`` removes the job's trees when the simulator releases it.

One agent per node and simulator process, not one actor per host: a new actor is a new
worker process (Ray, then smsim imported: over a second per host here), which would be
paid by every job; the host's resources are held by its placement-group bundle, the
agent holds none. A host's lines (stdout/stderr, and smsim's own notes) wait in a queue
that the simulator drains (``drain``, which also reports the host's end) while the host's
thread runs; ``stop`` is served beside them (a threaded actor). smsim
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
from simulator.s3 import finish_all, parse_s3_uri, unpack_tar_gz, upload_dir, upload_file

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
    """One host this agent runs: its queued lines, its stop, how it ended."""

    lines: queue.SimpleQueue[tuple[str, str]] = field(default_factory=queue.SimpleQueue)
    stop: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None  # set once every line of the host is queued


class NodeAgent:
    """smsim on one node (made a Ray actor by ``hosts/ray_launcher.py``): runs any number of
    hosts there at once, each keyed ``<job>/<host>``, in a thread of its own. Every call
    returns at once (``start``, then ``drain`` until it reports the end), so a few Ray
    threads serve any number of hosts."""

    def __init__(self) -> None:
        import ray

        self.node_id = ray.get_runtime_context().get_node_id()
        self.ip = ray.util.get_node_ip_address()
        self._hosts: dict[str, _Host] = {}
        self._trees: dict[str, tuple[Path, dict[str, str]]] = {}  # key → (tree, job's env)
        self._lock = threading.Lock()

    def where(self) -> tuple[str, str]:
        """(node id, node IP) of this node."""
        return self.node_id, self.ip

    def stop(self, key: str) -> None:
        """Stop the host's entry point (SIGTERM, the grace period, SIGKILL), as
        StopTrainingJob does."""
        self._host(key).stop.set()

    def start(self, key: str, spec: dict[str, Any], tree: bytes) -> None:
        """Stage, run and pack one host in a thread (see the module docstring)."""
        state = self._host(key)

        def body() -> None:
            try:
                result = self._run(state, spec, tree)
            except Exception as exc:  # noqa: BLE001 - reported to the simulator by drain
                result = {"error": f"{type(exc).__name__}: {exc}"}
            state.result = result

        threading.Thread(target=body, name=f"smsim {key}", daemon=True).start()

    def drain(self, key: str) -> tuple[list[tuple[str, str]], dict[str, Any] | None]:
        """(every line of the host queued since the last call: (OUT | ERR | NOTE, text),
        how it ended or None while it runs). The host is forgotten once it has ended."""
        host = self._host(key)
        result = host.result  # before the lines: once set, all of them are queued
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(host.lines.get_nowait())
        if result is not None:
            with self._lock:
                self._hosts.pop(key, None)
        return out, result

    def pack(self, key: str, part: str) -> bytes:
        """A tar of the host's ``part`` (e.g. ``model``): its share of a merged archive,
        handed to the first host's node by Ray (``upload_archive``)."""
        root, _ = self._tree(key)
        return pack_tree(root, [part])

    def upload_archive(
        self, key: str, part: str, target: str, hosts: list[str], *parts: bytes
    ) -> list[str]:
        """Pack ``part`` of this host (the job's first) and of the others (``parts``: their
        ``pack``, in ``hosts`` order) into one tar.gz uploaded to ``target`` from this node
        (``jobs/training/artifacts.py``'s merge rule); the clash warnings."""
        from simulator.jobs.training.artifacts import pack_artifacts

        root, env = self._tree(key)
        work = Path(tempfile.mkdtemp(dir=root.parent, prefix=".upload-"))
        try:
            sources = [root / part]
            for index, data in enumerate(parts, start=1):
                unpack_tree(data, work / hosts[index])
                sources.append(work / hosts[index] / part)
            uri = parse_s3_uri(target)
            archive = work / uri.key.rsplit("/", 1)[-1]
            warnings = pack_artifacts(tuple(hosts), sources, archive)
            upload_file(node_s3_client(env), archive, uri)  # whole or absent
            return warnings
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def upload_dir(self, key: str, part: str, target: str) -> None:
        """Upload every file of the host's ``part`` under the prefix ``target``."""
        root, env = self._tree(key)
        upload_dir(node_s3_client(env), root / part, parse_s3_uri(target))

    def forget(self, job: str) -> None:
        """Remove the trees of ``job``'s hosts on this node (the job released them)."""
        with self._lock:
            keys = [k for k in self._trees if k.startswith(f"{job}/")]
            roots = [self._trees.pop(k)[0] for k in keys]
        for root in roots:
            _clean(root)

    def _tree(self, key: str) -> tuple[Path, dict[str, str]]:
        with self._lock:
            if key not in self._trees:
                raise KeyError(f"no host tree {key} on node {self.node_id[:8]} (already released)")
            return self._trees[key]

    def _run(self, state: _Host, spec: dict[str, Any], tree: bytes) -> dict[str, Any]:
        from simulator.hosts.local import local_launcher

        job, host = spec["job"], spec["host"]

        def note(message: str) -> None:
            state.lines.put((NOTE, message))

        root = node_root(self.node_id) / job / host
        shutil.rmtree(root, ignore_errors=True)  # a restarted job starts from a fresh tree
        with self._lock:
            self._trees[f"{job}/{host}"] = (root, dict(spec["env"]))
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
            "returns": pack_tree(root, plan.returns),
        }

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
