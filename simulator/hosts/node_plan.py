"""What a remote host's node fetches from S3 itself, planned by the simulator (#19).

On SageMaker every instance downloads its own channels and checkpoints. Where a job's
hosts run on other machines (the Ray backend, ``hosts/ray_launcher.py``), the simulator
does not stage them in its own tree and ship them: it lists each channel as for a local
host (``jobs/channels.py``: sharding, shuffling, manifests are decided once, here) and
records every object it would have downloaded in the host's ``NodePlan`` instead; the
host's node carries the plan out with its own S3 client (``carry_out``), then keeps the
planned directories synced to S3 while the entry point runs (``start_syncs``:
CheckpointConfig, TensorBoardOutputConfig, Continuous processing outputs), as the
service's agent does on the instance.

Paths in a plan are relative to the host tree (its ``/opt/ml``), so the node can lay
the tree wherever it likes. A plan travels as plain data (``to_wire``/``from_wire``).
"""

from __future__ import annotations

import shutil
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from simulator.jobs.sources import DataObject
from simulator.s3 import TRANSFER_CONFIG, DirSync, S3Error, S3Uri, parse_s3_uri, safe_target


@dataclass(frozen=True)
class Download:
    """One object to put at ``path`` (relative to the host tree)."""

    path: str
    bucket: str = ""
    key: str = ""
    local: str | None = None  # a FileDataSource (file://) object: copied from this path
    gunzip: bool = False  # CompressionType Gzip in File mode: decompressed in place
    read_only: bool = False  # FastFile: served read-only


@dataclass(frozen=True)
class Sync:
    """A directory of the host tree mirrored to ``uri`` during the run and at its end."""

    path: str
    uri: str
    interval: float
    mark_existing: bool = False  # restored checkpoints need no upload back


@dataclass
class NodePlan:
    """One host's downloads and syncs, filled by the run, carried out by the host's node."""

    root: Path  # the host tree on the simulator's side (paths below are relative to it)
    downloads: list[Download] = field(default_factory=list)
    syncs: list[Sync] = field(default_factory=list)
    # Paths of the tree the node sends back after the run (model/, output/data, …): the
    # simulator packs and uploads them from its own tree, as for a local host.
    returns: list[str] = field(default_factory=list)

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.root.resolve()).as_posix()

    def download(
        self,
        objects: list[DataObject],
        dest: Path,
        *,
        gunzip: bool = False,
        read_only: bool = False,
    ) -> int:
        """Plan ``objects`` into ``dest`` (``channels._download``'s rule); their count."""
        for obj in objects:
            target = safe_target(dest, obj.relative, str(obj.uri or obj.path))
            path = self.relative(target)
            if obj.path is not None:
                self.downloads.append(Download(path, local=str(obj.path), gunzip=gunzip))
            else:
                assert obj.uri is not None
                item = Download(path, obj.uri.bucket, obj.uri.key, None, gunzip, read_only)
                self.downloads.append(item)
        return len(objects)

    def download_prefix(self, s3: Any, uri: S3Uri, dest: Path) -> int:
        """Plan every object under ``uri`` into ``dest`` (``s3.download_prefix``'s rule)."""
        from simulator.s3 import prefix_objects

        count = 0
        for key, relative in prefix_objects(s3, uri):
            target = safe_target(dest, relative, key)
            self.downloads.append(Download(self.relative(target), uri.bucket, key))
            count += 1
        return count

    def sync(self, local: Path, uri: S3Uri, interval: float, mark_existing: bool = False) -> None:
        self.syncs.append(Sync(self.relative(local), str(uri), interval, mark_existing))

    def to_wire(self) -> dict[str, Any]:
        return {
            "downloads": [asdict(d) for d in self.downloads],
            "syncs": [asdict(s) for s in self.syncs],
            "returns": list(self.returns),
        }

    @classmethod
    def from_wire(cls, root: Path, wire: dict[str, Any]) -> NodePlan:
        return cls(
            root,
            [Download(**d) for d in wire["downloads"]],
            [Sync(**s) for s in wire["syncs"]],
            list(wire["returns"]),
        )


def carry_out(plan: NodePlan, s3: Any) -> int:
    """Download every planned object into ``plan.root`` (on the node); the count."""
    from simulator.jobs.channels import gunzip

    for item in plan.downloads:
        target = safe_target(plan.root, item.path, item.key or str(item.local))
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.local is not None:
            shutil.copy2(item.local, target)
        else:
            try:
                s3.download_file(item.bucket, item.key, str(target), Config=TRANSFER_CONFIG)
            except s3.exceptions.ClientError as exc:
                raise S3Error(f"cannot download s3://{item.bucket}/{item.key}: {exc}") from exc
        if item.gunzip:
            target = gunzip(target)
        if item.read_only:
            target.chmod(stat.S_IMODE(target.stat().st_mode) & ~0o222)
    return len(plan.downloads)


def start_syncs(plan: NodePlan, s3: Any) -> list[DirSync]:
    """The plan's directory syncs, started (``s3.finish_all`` ends them)."""
    syncs = []
    for item in plan.syncs:
        local = safe_target(plan.root, item.path, item.uri)
        local.mkdir(parents=True, exist_ok=True)
        sync = DirSync(s3, local, parse_s3_uri(item.uri), item.interval)
        if item.mark_existing:
            sync.mark_existing()
        sync.start()
        syncs.append(sync)
    return syncs
