"""Channels and input modes (#13 req. 6): ShardedByS3Key, Pipe, FastFile, Gzip, manifests.

Jobs go through LocalSageMaker's boto3-shaped calls with scripts written here; the split
across hosts is checked on smsim's staging function with three hosts' trees.
"""

from __future__ import annotations

import gzip
import json
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.hosts.layout import HostLayout
from simulator.jobs.channels import HostShare, InputSpec, shard, stage_training_channels
from simulator.jobs.sources import DataObject

SEVEN = {f"sh/data/part-{i}.csv": f"row {i}\n" for i in (3, 0, 6, 1, 5, 2, 4)}

LIST_FILES = """
import json, os
root = os.environ["SM_CHANNEL_TRAIN"]
found = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
config = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
modes = {}
for d, _, fs in os.walk(root):
    for f in fs:
        modes[os.path.relpath(os.path.join(d, f), root)] = os.stat(os.path.join(d, f)).st_mode
text = {f: open(os.path.join(root, f)).read() for f in found}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as out:
    json.dump({"files": found, "text": text, "config": config["train"], "modes": modes}, out)
"""

# Reads epochs 0 and 1 of every channel from its FIFOs, as the developer guide says a
# Pipe-mode algorithm does (retrying until the epoch's pipe exists).
READ_PIPES = """
import json, os, stat, sys, time
config = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
seen = {}
for channel in sorted(config):
    base = os.environ["SM_CHANNEL_" + channel.upper()]
    epochs = []
    for epoch in range(2):
        path = f"{base}_{epoch}"
        for _ in range(1200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        fifo = stat.S_ISFIFO(os.stat(path).st_mode)
        with open(path, "rb") as f:
            epochs.append({"fifo": fifo, "data": f.read().hex()})
    seen[channel] = {"mode": config[channel]["TrainingInputMode"], "epochs": epochs}
with open(os.path.join(os.environ["SM_MODEL_DIR"], "pipes.json"), "w") as out:
    json.dump(seen, out)
"""


def _channel(request: dict[str, Any], **members: Any) -> dict[str, Any]:
    channel: dict[str, Any] = request["InputDataConfig"][0]
    source = channel["DataSource"]["S3DataSource"]
    for name, value in members.items():
        in_source = name.startswith("S3") or name in ("AttributeNames", "InstanceGroupNames")
        (source if in_source else channel)[name] = value
    return channel


def _seen(sm: Any, read_tar: Any, bucket: str, job: str, name: str) -> Any:
    return json.loads(read_tar(sm, bucket, f"output/{job}/output/model.tar.gz")[name])


def _records(data: bytes) -> list[bytes]:
    """The records of an MXNet RecordIO stream: magic, (cflag << 29 | length), data, padding
    to 4 bytes."""
    records = []
    while data:
        magic, word = struct.unpack("<II", data[:8])
        assert magic == 0xCED7230A and word >> 29 == 0
        length = word & ((1 << 29) - 1)
        records.append(data[8 : 8 + length])
        data = data[8 + length + (-length % 4) :]
    return records


@pytest.fixture
def channel_job(
    upload_code: Any, training_request: Any, run_training: Any
) -> Callable[..., dict[str, Any]]:
    """``channel_job(name, script, uri, input_mode=None, **members)``: run ``script`` as job
    ``name`` over one channel "train" at ``uri`` (``members``: its other members, as
    ``_channel`` sets them; ``input_mode``: the job's TrainingInputMode); its description."""

    def run(name: str, script: str, uri: str, input_mode: str | None = None, **members: Any):
        request = training_request(name, upload_code({"train.py": script}), channels={"train": uri})
        if input_mode:
            request["AlgorithmSpecification"]["TrainingInputMode"] = input_mode
        _channel(request, **members)
        return run_training(request)

    return run


# -- ShardedByS3Key -----------------------------------------------------------------------
def test_shard_gives_every_key_to_exactly_one_of_three_hosts() -> None:
    keys = sorted(SEVEN)
    shares = [shard(keys, k, 3) for k in range(3)]
    assert sorted(k for share in shares for k in share) == keys  # each key exactly once
    assert [len(s) for s in shares] == [3, 2, 2]  # about 1/3 each
    assert shares == [shard(keys, k, 3) for k in range(3)]  # deterministic
    # More hosts than objects: some hosts get no data, as the service warns.
    assert [len(shard(keys, k, 9)) for k in range(9)] == [1] * 7 + [0, 0]
    with pytest.raises(ValueError, match="host 3 of 3"):
        shard(keys, 3, 3)


def test_shuffled_shards_cover_every_object_each_epoch_and_move_between_hosts() -> None:
    """ShuffleConfig with ShardedByS3Key in Pipe mode: "the content sent to a particular node
    on the first epoch might be sent to a different node on the second epoch"."""
    objects = [DataObject(k) for k in sorted(SEVEN)]
    hosts = [
        InputSpec("train", "Pipe", objects, True, k, 3, seed=11).epoch_order() for k in range(3)
    ]
    epochs = [[[o.relative for o in host(e)] for host in hosts] for e in range(3)]
    for shares in epochs:
        assert sorted(k for share in shares for k in share) == sorted(SEVEN)
    assert epochs[0] != epochs[1]  # reshuffled at the start of the epoch
    again = InputSpec("train", "Pipe", objects, True, 0, 3, seed=11).epoch_order()
    assert [[o.relative for o in again(e)] for e in range(3)] == [e[0] for e in epochs]


def test_three_hosts_stage_disjoint_shards_of_seven_objects(
    sm: Any, put_s3: Any, bucket: str, training_request: Any, tmp_path: Path
) -> None:
    for key, body in SEVEN.items():
        put_s3(key, body)
    request = training_request("sharded", "unused", channels={"train": f"s3://{bucket}/sh/data"})
    _channel(request, S3DataDistributionType="ShardedByS3Key")
    lines: list[str] = []
    hosts = []
    for k in range(3):
        layout = HostLayout(tmp_path / f"algo-{k + 1}")
        feeds = stage_training_channels(HostShare(sm.s3, request, layout, k, 3, lines.append))
        assert feeds.feeders == []  # File mode: nothing runs during the job
        hosts.append(sorted(p.name for p in layout.channel_dir("train").iterdir()))
    assert sorted(f for files in hosts for f in files) == sorted(k.rsplit("/", 1)[1] for k in SEVEN)
    assert [len(files) for files in hosts] == [3, 2, 2]
    assert "ShardedByS3Key: host 2 of 3" in lines[1]


def test_a_channel_goes_only_to_the_instance_groups_it_names(
    sm: Any, put_s3: Any, bucket: str, training_request: Any, tmp_path: Path
) -> None:
    put_s3("grp/d/a.csv", "1\n")
    request = training_request("groups", "unused", channels={"train": f"s3://{bucket}/grp/d"})
    _channel(request, InstanceGroupNames=["gpu"])
    staged = {}
    for group in ("gpu", "cpu"):
        layout = HostLayout(tmp_path / group)
        stage_training_channels(
            HostShare(sm.s3, request, layout, 0, 1, lambda _: None), instance_group=group
        )
        staged[group] = layout.channel_dir("train").is_dir()
    assert staged == {"gpu": True, "cpu": False}


def test_sharded_channel_on_one_host_gets_every_object(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any
) -> None:
    for key, body in SEVEN.items():
        put_s3(key, body)
    uri = f"s3://{bucket}/sh/data"
    desc = channel_job("sharded-1", LIST_FILES, uri, S3DataDistributionType="ShardedByS3Key")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    seen = _seen(sm, read_tar, bucket, "sharded-1", "seen.json")
    assert seen["files"] == [f"part-{i}.csv" for i in range(7)]
    assert seen["config"]["S3DistributionType"] == "ShardedByS3Key"


# -- Pipe ---------------------------------------------------------------------------------
def test_pipe_channel_feeds_each_epoch_in_key_order(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any, container_mode: str
) -> None:
    objects = {"pipe/d/b.bin": b"second\n", "pipe/d/a.bin": b"first\n", "pipe/d/c/z.bin": b"3\n"}
    for key, body in objects.items():
        put_s3(key, body)
    desc = channel_job("piped", READ_PIPES, f"s3://{bucket}/pipe/d", input_mode="Pipe")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    seen = _seen(sm, read_tar, bucket, "piped", "pipes.json")["train"]
    assert seen["mode"] == "Pipe"
    expected = b"".join(objects[k] for k in sorted(objects))  # a.bin, b.bin, c/z.bin
    assert [bytes.fromhex(e["data"]) for e in seen["epochs"]] == [expected, expected]
    assert all(e["fifo"] for e in seen["epochs"])


def test_pipe_gzip_recordio_and_shuffle(
    sm: Any, put_s3: Any, bucket: str, upload_code: Any, training_request: Any, read_tar: Any
) -> None:
    bodies = {f"mix/gz/{i}.gz": f"line {i}\n".encode() for i in range(6)}
    for key, body in bodies.items():
        put_s3(key, gzip.compress(body))
    put_s3("mix/rec/one", b"abcde")  # 5 bytes: padded to 8 in its record
    put_s3("mix/rec/two", b"")
    code = upload_code({"train.py": READ_PIPES})
    request = training_request(
        "pipe-mix",
        code,
        channels={"gz": f"s3://{bucket}/mix/gz/", "rec": f"s3://{bucket}/mix/rec/"},
    )
    gz, rec = request["InputDataConfig"]
    gz.update(InputMode="Pipe", CompressionType="Gzip", ShuffleConfig={"Seed": 7})
    rec.update(InputMode="Pipe", RecordWrapperType="RecordIO")
    sm.create_training_job(**request)
    desc = sm.wait_for_training_job("pipe-mix", timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    seen = _seen(sm, read_tar, bucket, "pipe-mix", "pipes.json")
    orders = [bytes.fromhex(e["data"]).decode().splitlines() for e in seen["gz"]["epochs"]]
    # Decompressed; every object once per epoch; shuffled anew at the start of each epoch.
    assert [sorted(o) for o in orders] == [[f"line {i}" for i in range(6)]] * 2
    assert orders[0] != orders[1]
    for epoch in seen["rec"]["epochs"]:
        assert _records(bytes.fromhex(epoch["data"])) == [b"abcde", b""]


def test_augmented_manifest_streams_the_named_attributes_as_records(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any
) -> None:
    """The developer guide's example: AttributeNames ["image-ref", "is-a-cat"] with RecordIO
    → recordio(image1) recordio("1") recordio(image2) recordio("0"); others ignored."""
    put_s3("aug/img/1.jpg", b"\xff\xd8one")
    put_s3("aug/img/2.jpg", b"\xff\xd8two!")
    lines = [
        {"author": "x", "image-ref": f"s3://{bucket}/aug/img/1.jpg", "is-a-cat": 1},
        {"is-a-cat": 0, "image-ref": f"s3://{bucket}/aug/img/2.jpg", "box": [1, 2]},
    ]
    put_s3("aug/train.manifest", "\n".join(json.dumps(line) for line in lines) + "\n")
    desc = channel_job(
        "augmented",
        READ_PIPES,
        f"s3://{bucket}/aug/train.manifest",
        S3DataType="AugmentedManifestFile",
        AttributeNames=["image-ref", "is-a-cat"],
        InputMode="Pipe",
        RecordWrapperType="RecordIO",
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    for epoch in _seen(sm, read_tar, bucket, "augmented", "pipes.json")["train"]["epochs"]:
        records = _records(bytes.fromhex(epoch["data"]))
        assert records == [b"\xff\xd8one", b"1", b"\xff\xd8two!", b"0"]


def test_pipe_feeder_failure_fails_the_job_with_the_reason(
    put_s3: Any, bucket: str, channel_job: Any
) -> None:
    put_s3("mf/data/here.csv", "1\n")
    manifest = [{"prefix": f"s3://{bucket}/mf/data/"}, "here.csv", "gone.csv"]
    put_s3("mf/list.json", json.dumps(manifest))
    uri = f"s3://{bucket}/mf/list.json"
    desc = channel_job("pipe-gone", READ_PIPES, uri, S3DataType="ManifestFile", InputMode="Pipe")
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("ClientError: Pipe channel 'train', epoch 0: cannot read ")
    assert f"s3://{bucket}/mf/data/gone.csv" in reason


def test_stopping_a_pipe_job_ends_its_feeders_and_removes_the_fifos(
    sm: Any, put_s3: Any, bucket: str, upload_code: Any, training_request: Any, log_lines: Any
) -> None:
    from tests.support import wait_until

    put_s3("stop/d/a.bin", b"a")
    script = (
        "import os, time\n"
        "print(open(os.environ['SM_CHANNEL_TRAIN'] + '_0').read(), 'read', flush=True)\n"
        "time.sleep(120)\n"
    )
    request = training_request(
        "pipe-stop", upload_code({"train.py": script}), channels={"train": f"s3://{bucket}/stop/d"}
    )
    _channel(request, InputMode="Pipe")
    sm.create_training_job(**request)
    assert wait_until(lambda: "[pipe-stop/algo-1] a read" in log_lines.lines, 60)
    sm.stop_training_job(TrainingJobName="pipe-stop")
    assert sm.wait_for_training_job("pipe-stop", timeout=60)["TrainingJobStatus"] == "Stopped"
    assert not [t for t in threading.enumerate() if t.name.startswith("smsim-pipe-")]
    data_dir = sm.workspace / "jobs" / "pipe-stop" / "hosts" / "algo-1" / "input" / "data"
    assert [p.name for p in data_dir.iterdir()] == []  # epoch 1's unread FIFO is gone


# -- FastFile, manifests, Gzip in File mode ------------------------------------------------
def test_fast_file_channel_is_read_only_files_at_the_same_paths(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any
) -> None:
    put_s3("ff/train/a.csv", "1\n")
    put_s3("ff/train/deep/b.csv", "2\n")
    desc = channel_job("fast", LIST_FILES, f"s3://{bucket}/ff/train/", input_mode="FastFile")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    seen = _seen(sm, read_tar, bucket, "fast", "seen.json")
    assert seen["text"] == {"a.csv": "1\n", "deep/b.csv": "2\n"}
    assert seen["config"]["TrainingInputMode"] == "File"  # what the guide says FastFile writes
    assert all(mode & 0o222 == 0 for mode in seen["modes"].values())  # a read-only mount


def test_fast_file_refuses_a_partial_folder_prefix(
    put_s3: Any, bucket: str, channel_job: Any
) -> None:
    put_s3("ff2/train-01/data.csv", "1\n")
    desc = channel_job("fast-partial", LIST_FILES, f"s3://{bucket}/ff2/train", InputMode="FastFile")
    assert desc["TrainingJobStatus"] == "Failed"
    assert "partial folder name of 'ff2/train-01/data.csv'" in desc["FailureReason"]
    assert f"s3://{bucket}/ff2/train-01/" in desc["FailureReason"]


def test_manifest_channel_stages_the_listed_objects_at_their_suffixes(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any
) -> None:
    put_s3("man/data/x/one.csv", "1\n")
    put_s3("man/data/two.csv", "2\n")
    put_s3("man/data/unlisted.csv", "no\n")
    put_s3(
        "man/m.json", json.dumps([{"prefix": f"s3://{bucket}/man/data/"}, "two.csv", "x/one.csv"])
    )
    uri = f"s3://{bucket}/man/m.json"
    desc = channel_job("manifest", LIST_FILES, uri, S3DataType="ManifestFile")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    seen = _seen(sm, read_tar, bucket, "manifest", "seen.json")
    assert seen["text"] == {"two.csv": "2\n", "x/one.csv": "1\n"}


def test_gzip_file_mode_channel_is_decompressed_and_the_user_told(
    sm: Any, put_s3: Any, bucket: str, channel_job: Any, read_tar: Any, log_lines: Any
) -> None:
    put_s3("gzf/train/a.csv.gz", gzip.compress(b"7\n"))
    desc = channel_job("gz-file", LIST_FILES, f"s3://{bucket}/gzf/train", CompressionType="Gzip")
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert _seen(sm, read_tar, bucket, "gz-file", "seen.json")["text"] == {"a.csv": "7\n"}
    assert any("decompresses Gzip in Pipe mode only" in line for line in log_lines.lines)
