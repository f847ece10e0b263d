"""The Ray backend (#19): a job's hosts as actors on a Ray cluster of a head and 2 workers
(the ``ray_cluster`` fixture, on loopback), driven through boto3-shaped requests.

* a 2-host torchrun job (gloo) rendezvouses across two nodes: the all_reduce sum that only
  a working rendezvous gives is in the model rank 0 saved;
* a host's channel and checkpoints are staged on its node and its new checkpoint is
  synced to S3 from there; a processing job's input and output likewise; Pipe mode is
  refused by name;
* six jobs created at once spread over both workers;
* a worker killed while its job runs fails the job with a reason naming the node; under a
  RetryStrategy the job is retried on the other worker and resumes from its checkpoint.

``sm`` here is a LocalSageMaker on the Ray backend, so the shared fixtures (``put_s3``,
``script_request``, ``run_training``) build and run jobs on the cluster. The worker kill
uses ``killable_ray_cluster``: the killed worker is replaced after it.
"""

from __future__ import annotations

import io
import json
import shutil
import socket
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator.errors import SmsimError
from simulator.hosts import namespace
from simulator.hosts.local import MODE_ENV
from simulator.hosts.ray_node import node_root
from tests import support
from tests.simulator.jobs.training.test_distributed_hosts import ALL_REDUCE, TORCH_DISTRIBUTED

BUCKET = "smsim-test-bucket"  # the shared fixtures' bucket (tests/conftest.py)


def _node_cpus(address: str) -> dict[str, float]:
    import ray

    ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    return {n["NodeID"]: n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n["Alive"]}


@pytest.fixture(scope="module")
def whole_worker(ray_cluster: Any) -> dict[str, dict[str, Any]]:
    """Resources making one ml.m5.xlarge host take a whole worker node (its CPUs, no
    memory request): as on the service, one host per instance."""
    cpus = _node_cpus(ray_cluster.address)
    per_worker = min(cpus[w.node_id] for w in ray_cluster.workers)
    return {"ml.m5.xlarge": {"num_cpus": per_worker, "num_gpus": 0, "memory": 0}}


@pytest.fixture
def sm(tmp_path: Path, log_lines: Any, ray_cluster: Any, whole_worker: Any) -> Iterator[Any]:
    with support.started_sagemaker(
        tmp_path / "ws",
        log_lines,
        BUCKET,
        backend="ray",
        ray_address=ray_cluster.address,
        ray_resources=whole_worker,
    ) as session:
        yield session


def _nodes_of(lines: list[str], job: str) -> dict[str, str]:
    """host → the node id prefix the job's log says it ran on."""
    out = {}
    for line in lines:
        prefix = f"[{job}/algo-1] [smsim] "
        if line.startswith(prefix) and " on node " in line:
            host, _, rest = line[len(prefix) :].partition(" on node ")
            out[host] = rest.split()[0]
    return out


def _passed_through_simulator(sm: Any, job: str, part: str) -> list[Path]:
    """Files of ``part`` (e.g. ``model``) in the simulator's copies of the job's host trees:
    none when the nodes uploaded the artifacts themselves."""
    hosts = sm.workspace / "jobs" / job / "hosts"
    return [p for p in hosts.glob(f"*/{part}/**/*") if p.is_file()]


def _tar(sm: Any, key: str) -> dict[str, bytes]:
    body = sm.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_ddp_on_two_nodes_all_reduces_across_them(
    sm, ray_cluster, script_request, run_training, log_lines
):
    pytest.importorskip("torch")
    two_hosts = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 5}
    request = script_request(
        "ray-ddp", ALL_REDUCE, hyperparameters=TORCH_DISTRIBUTED, ResourceConfig=two_hosts
    )
    desc = run_training(request, timeout=180)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    # rank 0 (1.0) + rank 1 (2.0): the sum only a rendezvous of both hosts gives.
    assert _tar(sm, "output/ray-ddp/output/model.tar.gz") == {"reduced.txt": b"3.0"}
    outputs = _tar(sm, "output/ray-ddp/output/output.tar.gz")
    assert {json.loads(b)["world"] for b in outputs.values()} == {2}
    nodes = _nodes_of(log_lines.lines, "ray-ddp")
    assert set(nodes) == {"algo-1", "algo-2"}
    assert nodes["algo-1"] != nodes["algo-2"]  # STRICT_SPREAD: one host per node
    workers = {w.node_id[:8] for w in ray_cluster.workers}
    assert set(nodes.values()) == workers
    assert any("STRICT_SPREAD" in line for line in log_lines.lines)
    # Both archives were packed and uploaded on algo-1's node, algo-2's part sent there by
    # Ray: neither host's model/ nor output/data came back to the simulator.
    assert _passed_through_simulator(sm, "ray-ddp", "model") == []
    assert _passed_through_simulator(sm, "ray-ddp", "output/data") == []
    uploaded = [line for line in log_lines.lines if "uploaded s3://" in line]
    assert len(uploaded) == 2 and all("from algo-1's node" in line for line in uploaded)


STAGED = """\
import os, pathlib
ckpt = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"])
model = pathlib.Path(os.environ["SM_MODEL_DIR"])
train = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
fast = pathlib.Path(os.environ["SM_CHANNEL_FAST"]) / "part.csv"  # FastFile: read-only
(model / "seen.txt").write_text(
    (train / "part.csv").read_text() + (ckpt / "step-1.txt").read_text()
)
(model / "fast.txt").write_text(fast.read_text() + oct(fast.stat().st_mode & 0o222))
(ckpt / "step-2.txt").write_text("two")
print("loss=0.25")
"""


@pytest.mark.parametrize("mode", ["namespace", "fallback"])
def test_channels_and_checkpoints_are_staged_and_synced_on_the_node(
    mode, monkeypatch, sm, put_s3, script_request, run_training, log_lines
):
    if mode == "namespace" and not namespace.probe().available:
        pytest.skip(f"no mount namespace here: {namespace.probe().reason}")
    # The simulator's container mode is the nodes' (here: the same machine's probe).
    monkeypatch.setenv(MODE_ENV, mode)
    job = f"ray-staged-{mode}"
    put_s3("data/train/part.csv", "1,2\n")
    put_s3(f"ckpt/{job}/step-1.txt", "one")
    request = script_request(
        job,
        STAGED,
        channels={"train": f"s3://{BUCKET}/data/train", "fast": f"s3://{BUCKET}/data/train"},
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/ckpt/{job}"},
        AlgorithmSpecification={
            "TrainingImage": support.TRAINING_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
        },
    )
    request["InputDataConfig"][1]["InputMode"] = "FastFile"
    desc = run_training(request, timeout=120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    model = _tar(sm, f"output/{job}/output/model.tar.gz")
    assert model == {"seen.txt": b"1,2\none", "fast.txt": b"1,2\n0o0"}
    body = sm.s3.get_object(Bucket=BUCKET, Key=f"ckpt/{job}/step-2.txt")["Body"].read()
    assert body == b"two"
    assert f"[{job}/algo-1] [smsim] container mode on this node: {mode} " in "\n".join(
        log_lines.lines
    )
    # The node's lines came back: to the live log, the log file and the metric parser.
    assert f"[{job}/algo-1] loss=0.25" in log_lines.lines
    log_file = sm.workspace / "jobs" / job / "logs" / "algo-1.log"
    assert "loss=0.25" in log_file.read_text()
    assert [m["Value"] for m in desc["FinalMetricDataList"]] == [0.25]
    assert any("staged 3 object(s) from S3 on this node" in line for line in log_lines.lines)


PROCESS = """\
import pathlib
rows = pathlib.Path("/opt/ml/processing/input/rows.csv").read_text().splitlines()
pathlib.Path("/opt/ml/processing/output/count.txt").write_text(str(len(rows)))
"""


def test_a_processing_job_reads_and_writes_on_the_node(sm, put_s3):
    code = put_s3("code/process.py", PROCESS)
    data = put_s3("data/rows/rows.csv", "a\nb\nc\n")
    request = support.processing_request(
        "ray-process",
        ["python3", "/opt/ml/processing/code/process.py"],
        inputs=[
            support.processing_input("code", code, "/opt/ml/processing/code"),
            support.processing_input("rows", data, "/opt/ml/processing/input"),
        ],
        outputs={"counts": (f"s3://{BUCKET}/counted", "/opt/ml/processing/output")},
    )
    sm.create_processing_job(**request)
    desc = sm.wait_for_processing_job("ray-process", timeout=120)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    body = sm.s3.get_object(Bucket=BUCKET, Key="counted/count.txt")["Body"].read()
    assert body == b"3"
    # Uploaded from the host's node, as each instance uploads its own outputs.
    assert _passed_through_simulator(sm, "ray-process", "processing/output") == []


def test_pipe_mode_is_refused_naming_the_channel(sm, put_s3, script_request, run_training):
    put_s3("data/piped/a.rec", "x")
    request = script_request(
        "ray-pipe", "print(1)", channels={"train": f"s3://{BUCKET}/data/piped"}
    )
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: channel 'train': Pipe input mode")
    assert "use File or FastFile" in desc["FailureReason"]


def test_an_instance_type_no_node_can_hold_fails_at_once(sm, script_request, run_training):
    gpu_host = {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
    desc = run_training(script_request("ray-gpu", "print(1)", ResourceConfig=gpu_host), 60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("CapacityError: no node of the Ray cluster at "), desc[
        "FailureReason"
    ]
    assert "can hold a ml.p3.2xlarge host (" in desc["FailureReason"]


HELLO = """\
import os, pathlib
pathlib.Path(os.environ["SM_MODEL_DIR"], "job.txt").write_text(os.environ["TRAINING_JOB_NAME"])
"""


def test_six_jobs_at_once_spread_over_both_workers(sm, ray_cluster, script_request, log_lines):
    names = [f"ray-fan-{k}" for k in range(6)]
    for name in names:
        sm.create_training_job(**script_request(name, HELLO))
    for name in names:
        desc = sm.wait_for_training_job(name, timeout=180)
        assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
        assert _tar(sm, f"output/{name}/output/model.tar.gz") == {"job.txt": name.encode()}
    used = {node for name in names for node in _nodes_of(log_lines.lines, name).values()}
    # Each host takes a whole worker: six jobs run on both, never more than fit at once.
    assert {w.node_id[:8] for w in ray_cluster.workers} <= used


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_reachable_cluster_is_a_clear_error_at_once(tmp_path, free_port):
    pytest.importorskip("ray")
    from simulator import LocalSageMaker

    port = free_port
    started = time.monotonic()
    sm = LocalSageMaker(workspace=tmp_path / "ws", backend="ray", ray_address=f"127.0.0.1:{port}")
    with pytest.raises(SmsimError, match=f"no Ray cluster at 127.0.0.1:{port}"):
        sm.start()
    assert time.monotonic() - started < 10  # refused, not a hang


def test_smsim_serve_on_an_unreachable_cluster_says_so_in_one_line(free_port):
    pytest.importorskip("ray")
    smsim = Path(sys.executable).with_name("smsim")
    address = f"127.0.0.1:{free_port}"
    argv = [str(smsim), "serve", "--port", "0", "--backend", "ray", "--ray-address", address]
    line = support.cli_refusal(argv, columns=200, timeout=120)
    assert f"no Ray cluster at {address}" in line


def test_ray_missing_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    from simulator import LocalSageMaker

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(SmsimError) as caught:
        LocalSageMaker(workspace=tmp_path / "ws", backend="ray", ray_address="127.0.0.1:6379")
    assert str(caught.value) == "backend 'ray' needs Ray: pip install 'smsim[ray]'"


SLEEPER = """\
import time
print("ready", flush=True)
time.sleep(120)
"""


def _ready(log_lines: Any, job: str, host: str = "algo-1") -> bool:
    return support.wait_until(lambda: f"[{job}/{host}] ready" in log_lines.lines, 60)


def test_a_job_waits_starting_for_room_and_stops_on_the_nodes(sm, script_request, log_lines):
    two_hosts = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 5}
    sm.create_training_job(**script_request("ray-busy", SLEEPER, ResourceConfig=two_hosts))
    assert _ready(log_lines, "ray-busy") and _ready(log_lines, "ray-busy", "algo-2")
    # Both workers are taken: the next job waits for room, still Starting.
    sm.create_training_job(**script_request("ray-queued", SLEEPER))
    waiting = "[ray-queued/algo-1] [smsim] waiting for room on the Ray cluster"
    assert support.wait_until(lambda: any(line.startswith(waiting) for line in log_lines.lines), 30)
    queued = sm.describe_training_job(TrainingJobName="ray-queued")
    assert (queued["TrainingJobStatus"], queued["SecondaryStatus"]) == ("InProgress", "Starting")
    sm.stop_training_job(TrainingJobName="ray-queued")
    assert sm.wait_for_training_job("ray-queued", timeout=30)["TrainingJobStatus"] == "Stopped"
    # A stop reaches the processes on the nodes: SIGTERM there ends the sleeping scripts.
    started = time.monotonic()
    sm.stop_training_job(TrainingJobName="ray-busy")
    busy = sm.wait_for_training_job("ray-busy", timeout=60)
    assert busy["TrainingJobStatus"] == "Stopped"
    assert time.monotonic() - started < 30  # not the scripts' 120 s


def test_max_runtime_is_enforced_on_the_node(sm, script_request, run_training):
    request = script_request("ray-slow", SLEEPER, StoppingCondition={"MaxRuntimeInSeconds": 2})
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_a_worker_lost_mid_job_fails_it_naming_the_node(
    sm, killable_ray_cluster, script_request, log_lines
):
    ray_cluster = killable_ray_cluster  # its killed worker is replaced after the test
    sm.create_training_job(**script_request("ray-lost", SLEEPER))
    assert _ready(log_lines, "ray-lost")
    (node,) = _nodes_of(log_lines.lines, "ray-lost").values()
    (worker,) = [w for w in ray_cluster.workers if w.node_id.startswith(node)]
    worker.kill()
    desc = sm.wait_for_training_job("ray-lost", timeout=120)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith(
        f"InternalServerError: host algo-1 lost: Ray node {node} ({worker.ip}) died: "
    )
    # Still described and with its logs, after the node that ran it is gone.
    again = sm.describe_training_job(TrainingJobName="ray-lost")
    assert again["FailureReason"] == desc["FailureReason"]
    log_file = sm.workspace / "jobs" / "ray-lost" / "logs" / "algo-1.log"
    assert "ready" in log_file.read_text()
    # The lost node left its tree, as a dead machine would: not in this machine's /tmp.
    shutil.rmtree(node_root(worker.node_id), ignore_errors=True)


RESUMABLE = """\
import os, pathlib, time
ckpt = pathlib.Path(os.environ["SM_CHECKPOINT_DIR"]) / "step-1.txt"
if ckpt.exists():  # a later attempt: resume from what the first one saved
    (pathlib.Path(os.environ["SM_MODEL_DIR"]) / "resumed.txt").write_text(ckpt.read_text())
else:
    ckpt.write_text("saved by attempt 1")
    print("ready", flush=True)
    time.sleep(120)
"""


def test_a_worker_lost_mid_job_is_retried_on_another_node_from_its_checkpoint(
    sm, killable_ray_cluster, script_request, log_lines
):
    ray_cluster = killable_ray_cluster  # its killed worker is replaced after the test
    job = "ray-retried"
    request = script_request(
        job,
        RESUMABLE,
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/ckpt/{job}"},
        RetryStrategy={"MaximumRetryAttempts": 1},
    )
    sm.create_training_job(**request)
    assert _ready(log_lines, job)
    key = f"ckpt/{job}/step-1.txt"
    # The node syncs the checkpoint to S3 (every 0.2 s here) before it is lost.
    assert support.wait_until(
        lambda: sm.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"), 30
    )
    saved = sm.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    (node,) = _nodes_of(log_lines.lines, job).values()
    (worker,) = [w for w in ray_cluster.workers if w.node_id.startswith(node)]
    worker.kill()
    desc = sm.wait_for_training_job(job, timeout=180)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    # What the retry's script saw: the checkpoint the lost attempt had saved.
    assert _tar(sm, f"output/{job}/output/model.tar.gz") == {"resumed.txt": saved}
    transitions = desc["SecondaryStatusTransitions"]
    assert [t["Status"] for t in transitions] == [
        "Starting",
        "Downloading",
        "Training",
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    retry = transitions[3]["StatusMessage"]
    assert "retry 1 of 1" in retry
    assert f"InternalServerError: host algo-1 lost: Ray node {node} ({worker.ip}) died" in retry
    assert desc["RetryStrategy"] == {"MaximumRetryAttempts": 1}
    # A placement group reserved anew: the retry ran on the other, surviving worker.
    placed = [
        line.rpartition(" on node ")[2].split()[0]
        for line in log_lines.lines
        if line.startswith(f"[{job}/algo-1] [smsim] algo-1 on node ")
    ]
    (survivor,) = [w.node_id[:8] for w in ray_cluster.workers if w is not worker]
    assert placed == [node, survivor]
    shutil.rmtree(node_root(worker.node_id), ignore_errors=True)  # the lost node's tree
