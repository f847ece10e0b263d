"""Channels and input modes: what one host of a job gets from each input, as SageMaker says.

The rules followed (botocore's model documents the members; the developer guide the modes):

* **S3Prefix**: every object whose key starts with the prefix, in S3's key order
  (``simulator.s3.prefix_objects``). **ManifestFile**: the S3Uri is a JSON array
  ``[{"prefix": "s3://bucket/p/"}, "rel/key", …]``; the objects are prefix + each suffix, in
  the manifest's order, landing at the suffix (S3DataSource.S3Uri's doc).
  **AugmentedManifestFile** ("can only be used if the Channel's input mode is Pipe"):
  JSON lines whose AttributeNames are streamed (``augmented_manifest_lines``).
* **S3DataDistributionType**: FullyReplicated gives every host every object.
  ShardedByS3Key gives each of N hosts "approximately 1/N of the number of S3 objects",
  and with more hosts than objects "some nodes won't get any data" (S3DataSource doc).
  The service does not document which objects go where; smsim's split, deterministic:
  **host k (0-based) gets objects k, k+N, k+2N, … of the ordered list** (round robin, so
  the counts differ by at most one).
* **ShuffleConfig** (Channel doc): the order of the prefix matches / manifest entries is
  shuffled with the Seed; in Pipe mode "shuffling is done at the start of every epoch",
  and with ShardedByS3Key "the content sent to a particular node on the first epoch might
  be sent to a different node on the second epoch" — so each epoch shuffles the whole
  list (one ``random.Random(Seed)`` per channel, the same on every host), then shards it.
  In File mode the epoch-0 order decides the shards.
* **File**: the host's objects are downloaded to ``/opt/ml/input/data/<channel>/``.
  **FastFile** (guide: "TrainingInputMode parameter written to inputdataconfig.json:
  File", "The channel directory is mounted as read-only", S3Prefix only, a folder view
  in which "S3Uri prefixes must not correspond to a partial folder name"): the service
  streams the objects on first read; smsim downloads them before the entry point
  starts, read-only, at the same paths. **Pipe**: FIFOs ``<channel>_<epoch>``
  (``pipes.py``), fed during the run.
* **CompressionType Gzip**: decompressed in Pipe mode, as the service does. The service
  documents it for Pipe mode only ("In File mode, leave this field unset or set it to
  None"); in File/FastFile mode smsim decompresses each file in place and says so in the
  job's log.

Processing inputs (``ProcessingS3Input``) follow the same rules with their own member
names (S3InputMode, S3CompressionType: "Gzip can only be used when Pipe mode is
specified"); a Pipe input's FIFOs are ``<LocalPath>_<epoch>`` — the training naming with
the input's LocalPath as its channel directory (the processing docs name no path).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import random
import shutil
import signal
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.hosts.layout import HostLayout
from simulator.jobs.pipes import PipeFeeder
from simulator.jobs.sources import (
    DataObject,
    augmented_manifest_lines,
    local_objects,
    manifest_objects,
    opener,
    s3_prefix_objects,
)
from simulator.s3 import TRANSFER_CONFIG, S3Error, parse_s3_uri, safe_target

if TYPE_CHECKING:
    from simulator.hosts.node_plan import NodePlan

Log = Callable[[str], None]


@dataclass(frozen=True)
class InputSpec:
    """One channel (or processing input) as one host receives it."""

    name: str  # the channel / input name, for messages
    mode: str  # File | FastFile | Pipe
    objects: list[DataObject]  # every object of the input, in order (before sharding)
    sharded: bool
    host_index: int
    host_count: int
    seed: int | None = None  # ShuffleConfig.Seed
    gzip: bool = False
    recordio: bool = False

    def epoch_order(self) -> Callable[[int], list[DataObject]]:
        """epoch → this host's objects for that epoch (shuffled per epoch, then sharded)."""
        rng = random.Random(self.seed)
        done: list[list[DataObject]] = []

        def objects(epoch: int) -> list[DataObject]:
            while len(done) <= epoch:  # epochs come in order; one shuffle each, as the service
                order = list(self.objects)
                if self.seed is not None:
                    rng.shuffle(order)
                done.append(order)
            # An augmented manifest line streams as its attributes, one after the other.
            return [part for o in self.host_share(done[epoch]) for part in (o.parts or (o,))]

        return objects

    def host_share(self, order: list[DataObject]) -> list[DataObject]:
        return shard(order, self.host_index, self.host_count) if self.sharded else list(order)


def shard(items: list[Any], host_index: int, host_count: int) -> list[Any]:
    """ShardedByS3Key: host ``host_index`` (0-based) of ``host_count`` gets items
    host_index, host_index + N, … — every item goes to exactly one host, counts differ by
    at most one, a host beyond the item count gets none."""
    if host_count < 1 or not 0 <= host_index < host_count:
        raise ValueError(f"host {host_index} of {host_count}: not a host of the job")
    return list(items[host_index::host_count])


@dataclass
class ChannelFeeds:
    """What lives while a host runs: the Pipe feeders of its channels."""

    feeders: list[PipeFeeder] = field(default_factory=list)

    def start(self, on_error: Callable[[], None] | None = None) -> None:
        """Create each Pipe channel's first FIFO and start feeding it; ``on_error`` is
        called (from the feeder's thread) when a feeder fails: it should end the host's
        process, which would otherwise wait on its pipe forever."""
        for feeder in self.feeders:
            feeder.start(on_error)

    def stop(self) -> None:
        for feeder in self.feeders:
            feeder.stop()

    @property
    def error(self) -> str | None:
        """The first feeder failure (the job's FailureReason), if any."""
        return next((f.error for f in self.feeders if f.error), None)


def kill_process_group(pgid: int | None) -> None:
    """SIGKILL a host's process group (a feeder failed: its reader would block forever)."""
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True)
class HostShare:
    """One host's place in a job, as a stager needs it: the job's S3 client and request,
    the host's tree, its index among ``host_count`` hosts (ShardedByS3Key), where its
    lines go and, for a host on another node, the plan its downloads go to."""

    s3: Any
    request: dict[str, Any]
    layout: HostLayout
    host_index: int
    host_count: int
    log: Log
    plan: NodePlan | None = None


# -- training -----------------------------------------------------------------------------
def stage_training_channels(share: HostShare, instance_group: str | None = None) -> ChannelFeeds:
    """Stage every channel of a CreateTrainingJob request for host ``host_index`` (0-based)
    of ``host_count``: File/FastFile channels downloaded now, Pipe channels as feeders.

    ``instance_group``: the host's group in a heterogeneous cluster; a channel whose
    S3DataSource.InstanceGroupNames does not name it is not staged ("A list of names of
    instance groups that get data from the S3 data source"); the caller then counts
    ``host_index``/``host_count`` among the hosts of the groups that get it.

    ``plan``: the host runs on another node (``hosts/node_plan.py``): its downloads are
    planned there instead of done here."""
    s3, request, layout, log, plan = share.s3, share.request, share.layout, share.log, share.plan
    host_index, host_count = share.host_index, share.host_count
    default_mode = request.get("AlgorithmSpecification", {}).get("TrainingInputMode", "File")
    feeds = ChannelFeeds()
    for channel in request.get("InputDataConfig", []):
        name = channel["ChannelName"]
        source = channel["DataSource"]
        groups = source.get("S3DataSource", {}).get("InstanceGroupNames")
        if instance_group is not None and groups and instance_group not in groups:
            log(f"channel {name!r}: not for instance group {instance_group!r} ({groups})")
            continue
        mode = channel.get("InputMode", default_mode)  # a channel's own mode wins (Channel doc)
        if "S3DataSource" in source:
            s3_source = source["S3DataSource"]
            uri = parse_s3_uri(s3_source["S3Uri"], f"channel {name!r} S3Uri")
            data_type = s3_source.get("S3DataType")
            if data_type == "ManifestFile":
                objects = manifest_objects(s3, uri)
            elif data_type == "AugmentedManifestFile":
                objects = augmented_manifest_lines(s3, uri, s3_source.get("AttributeNames", []))
            else:
                objects = s3_prefix_objects(s3, uri, fast_file=mode == "FastFile")
            distribution = s3_source.get("S3DataDistributionType", "FullyReplicated")
        else:
            file_source = source["FileDataSource"]
            objects = local_objects(file_source["FileUri"])
            distribution = file_source.get("FileDataDistributionType", "FullyReplicated")
        spec = InputSpec(
            name=name,
            mode=mode,
            objects=objects,
            sharded=distribution == "ShardedByS3Key",
            host_index=host_index,
            host_count=host_count,
            seed=channel.get("ShuffleConfig", {}).get("Seed"),
            gzip=channel.get("CompressionType", "None") == "Gzip",
            recordio=channel.get("RecordWrapperType", "None") == "RecordIO",
        )
        _stage(s3, spec, layout.channel_dir(name), f"channel {name!r}", feeds, log, plan=plan)
    return feeds


# -- processing ---------------------------------------------------------------------------
def stage_processing_inputs(share: HostShare) -> ChannelFeeds:
    """Stage every ProcessingInputs S3Input for host ``host_index`` of ``host_count`` at its
    LocalPath (File), or as FIFOs ``<LocalPath>_<epoch>`` (Pipe); ``plan``: planned for
    the host's node instead (``stage_training_channels``)."""
    s3, request, layout, log, plan = share.s3, share.request, share.layout, share.log, share.plan
    host_index, host_count = share.host_index, share.host_count
    feeds = ChannelFeeds()
    for item in request.get("ProcessingInputs", []):
        s3_input = item["S3Input"]
        name = item["InputName"]
        dest = layout.host_path(s3_input["LocalPath"], f"{name}.S3Input.LocalPath")
        uri = parse_s3_uri(s3_input["S3Uri"], f"{name}.S3Input.S3Uri")
        objects = (
            manifest_objects(s3, uri)
            if s3_input.get("S3DataType") == "ManifestFile"
            else s3_prefix_objects(s3, uri)
        )
        spec = InputSpec(
            name=name,
            mode=s3_input.get("S3InputMode", "File"),
            objects=objects,
            sharded=s3_input.get("S3DataDistributionType") == "ShardedByS3Key",
            host_index=host_index,
            host_count=host_count,
            gzip=s3_input.get("S3CompressionType", "None") == "Gzip",
        )
        where = f"input {name!r}"
        _stage(s3, spec, dest, where, feeds, log, shown=s3_input["LocalPath"], plan=plan)
    return feeds


# -- staging ------------------------------------------------------------------------------
def _stage(
    s3: Any,
    spec: InputSpec,
    dest: Path,
    where: str,
    feeds: ChannelFeeds,
    log: Log,
    shown: str | None = None,
    plan: NodePlan | None = None,
) -> None:
    share = f" (ShardedByS3Key: host {spec.host_index + 1} of {spec.host_count})"
    share = share if spec.sharded else ""
    if plan is not None:
        return _plan(spec, dest, where, share, log, shown, plan)
    if spec.mode == "Pipe":
        feeder = PipeFeeder(
            dest,
            spec.name,
            spec.epoch_order(),
            opener(s3, spec.gzip),
            recordio=spec.recordio,
        )
        feeds.feeders.append(feeder)
        count = len(spec.host_share(list(spec.objects)))
        pipes = f"{shown or '/opt/ml/input/data/' + dest.name}_<epoch>"
        log(f"{where}: Pipe mode, {count} object(s) per epoch{share} through FIFOs {pipes}")
        return
    order = spec.epoch_order()(0)
    files = _download(s3, order, dest)
    if spec.gzip:
        log(
            f"warning: {where}: SageMaker decompresses Gzip in Pipe mode only (File mode: "
            "leave the compression unset); smsim decompresses the files in place"
        )
        files = [gunzip(f) for f in files]
    if spec.recordio:
        log(f"warning: {where}: RecordWrapperType RecordIO applies to Pipe mode; files left as is")
    if spec.mode == "FastFile":
        # The service streams FastFile objects on first read from a read-only mount.
        for f in files:
            f.chmod(stat.S_IMODE(f.stat().st_mode) & ~0o222)
        log(
            f"{where}: FastFile mode, served as {len(files)} read-only file(s){share} "
            "(SageMaker streams them from S3 on first read; smsim downloads them first)"
        )
        return
    at = f" at {shown}" if shown else ""
    log(f"{where}: {len(files)} file(s){at}{share}")


def _plan(
    spec: InputSpec, dest: Path, where: str, share: str, log: Log, shown: str | None, plan: NodePlan
) -> None:
    """``_stage`` for a host on another node: the same objects, downloaded by the node."""
    if spec.mode == "Pipe":
        # The FIFOs are fed by a thread of the simulator while the host reads them; a host
        # on another machine cannot read this machine's FIFOs (a documented gap).
        raise S3Error(
            f"{where}: Pipe input mode is not supported on the Ray backend; use File or FastFile"
        )
    fast = spec.mode == "FastFile"
    count = plan.download(spec.epoch_order()(0), dest, gunzip=spec.gzip, read_only=fast)
    if spec.gzip:
        log(
            f"warning: {where}: SageMaker decompresses Gzip in Pipe mode only (File mode: "
            "leave the compression unset); smsim decompresses the files in place"
        )
    mode = "FastFile mode, read-only, " if fast else ""
    at = f" at {shown}" if shown else ""
    log(f"{where}: {mode}{count} file(s){at}{share}, downloaded on the host's node")


def _download(s3: Any, objects: list[DataObject], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for obj in objects:
        target = safe_target(dest, obj.relative, str(obj.uri or obj.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        if obj.path is not None:
            shutil.copy2(obj.path, target)
        else:
            assert obj.uri is not None
            try:
                s3.download_file(obj.uri.bucket, obj.uri.key, str(target), Config=TRANSFER_CONFIG)
            except s3.exceptions.ClientError as exc:
                raise S3Error(f"cannot download {obj.uri}: {exc}") from exc
        written.append(target)
    return written


def gunzip(path: Path) -> Path:
    """Decompress one staged file in place (``x.gz`` → ``x``; another name keeps its name)."""
    target = path.with_suffix("") if path.suffix == ".gz" else path.with_name(path.name + ".out")
    try:
        with gzip.open(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
    except (OSError, EOFError) as exc:
        target.unlink(missing_ok=True)
        raise S3Error(f"{path.name} is not gzip data ({exc}); set the compression to None") from exc
    path.unlink()
    if target.name.endswith(".out"):
        target = target.rename(path)
    return target
