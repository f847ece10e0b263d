"""The node side of a Ray host (#19): one actor per host of a job, where Ray placed it.

``HostActor.run`` does on its node what a SageMaker instance does for its container:

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

Its lines (stdout/stderr, and smsim's own notes) wait in a queue that the simulator
drains (``drain``) while ``run`` runs: the actor is threaded (``max_concurrency``), so
``drain`` and ``stop`` are served beside ``run``. The job's code and smsim must be
importable on the node (the same environment as the simulator's; see the README).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import shutil
import tarfile
import tempfile
import threading
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
    endpoint the host's own processes use."""
    import boto3

    from simulator.aws import CLIENT_CONFIG

    url = (
        env.get("AWS_ENDPOINT_URL_S3") or env.get("S3_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL")
    )
    return boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
    ).client("s3", endpoint_url=url, config=CLIENT_CONFIG)


class HostActor:
    """One host of one job on this node (made a Ray actor by ``hosts/ray_launcher.py``)."""

    def __init__(self, job: str, host: str) -> None:
        import ray

        self.job = job
        self.host = host
        self.node_id = ray.get_runtime_context().get_node_id()
        self.ip = ray.util.get_node_ip_address()
        self._lines: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._stop = threading.Event()

    def where(self) -> tuple[str, str]:
        """(node id, node IP) of the node this host runs on."""
        return self.node_id, self.ip

    def stop(self) -> None:
        """Stop the entry point (SIGTERM, the grace period, SIGKILL), as StopTrainingJob."""
        self._stop.set()

    def drain(self) -> list[tuple[str, str]]:
        """Every line queued since the last call: (OUT | ERR | NOTE, text)."""
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self._lines.get_nowait())
        return out

    def run(self, spec: dict[str, Any], tree: bytes) -> dict[str, Any]:
        """Stage, run and pack one host (see the module docstring); how it ended."""
        from simulator.hosts.local import local_launcher

        root = node_root(self.node_id) / self.job / self.host
        shutil.rmtree(root, ignore_errors=True)  # a restarted job starts from a fresh tree
        try:
            unpack_tree(tree, root)
            self._note(f"on Ray node {self.node_id[:8]} ({self.ip}): host tree {root}")
            plan = NodePlan.from_wire(root, spec["plan"])
            s3 = node_s3_client(spec["env"])
            if plan.downloads:
                count = carry_out(plan, s3)
                self._note(f"staged {count} object(s) from S3 on this node")
            syncs = start_syncs(plan, s3)
            launcher = local_launcher(spec["container_mode"])
            self._note(f"container mode on this node: {launcher.mode} ({launcher.reason})")
            command = HostCommand(
                self.host,
                tuple(spec["hosts"]),
                HostLayout(root),
                list(spec["argv"]),
                spec["cwd"],
                dict(spec["env"]),
                addresses=spec["addresses"],
            )
            watch = Supervision(
                log_dir=root.parent / "node-logs",
                prefix=f"{self.job}/{self.host}",
                sink=lambda line: None,  # the lines go back through ``tap``
                note=self._note,
                max_runtime=spec["max_runtime"],
                stop_event=self._stop,
                grace_seconds=spec["grace_seconds"],
                tap=lambda line, is_err: self._lines.put((ERR if is_err else OUT, line)),
            )
            result = launcher.run(command, watch)
            try:
                finish_all(syncs)  # the final sync, as the service's at the job's end
            except Exception as exc:  # noqa: BLE001 - the job's outcome is the process's
                self._note(f"checkpoint sync from this node failed: {exc}")
            return {
                "exit_code": result.exit_code,
                "stop_reason": result.stop_reason,
                "stderr_tail": result.stderr_tail,
                "duration": result.duration,
                "artifacts": pack_tree(root, plan.returns),
            }
        finally:
            _clean(root)

    def _note(self, message: str) -> None:
        self._lines.put((NOTE, message))


def _clean(root: Path) -> None:
    """Remove a host tree, and its job's directory once no other host of it is left here."""
    shutil.rmtree(root, ignore_errors=True)
    job_dir = root.parent
    with contextlib.suppress(OSError):
        if not [p for p in job_dir.iterdir() if p.is_dir() and p.name != "node-logs"]:
            shutil.rmtree(job_dir, ignore_errors=True)
