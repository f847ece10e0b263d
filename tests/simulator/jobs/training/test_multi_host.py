"""Multi-instance training jobs (#13): N hosts, each its own tree, config and process.

Every test creates its job through ``LocalSageMaker`` as a user's code would, and checks
what the job's own scripts saw (written to ``/opt/ml/model`` or ``/opt/ml/output/data`` and
read back from the artifacts in S3), or what happened to their processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from simulator.errors import UnsupportedFeature, ValidationError

# Each host writes what it sees under its own name (no clash) and one file every host
# writes (a clash: the first host's copy is kept).
SEE = """\
import json, os, socket
rc = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json")))
host = os.environ["SM_CURRENT_HOST"]
seen = {
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "MASTER_", "NCCL_"))},
    "resourceconfig": rc,
    "cwd": os.getcwd(),
    "channels": sorted(os.listdir(os.environ["SM_INPUT_DIR"] + "/data")),
    "resolved": {},
}
for name in rc["hosts"]:
    try:
        seen["resolved"][name] = socket.gethostbyname(name)
    except OSError as exc:
        seen["resolved"][name] = "unresolved: " + str(exc)
with open(os.path.join(os.environ["SM_MODEL_DIR"], host + ".json"), "w") as f:
    json.dump(seen, f)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "written-by.txt"), "w") as f:
    f.write(host)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], host + ".txt"), "w") as f:
    f.write("output of " + host)
print("host", host, "of", rc["hosts"])
"""


def _resources(count: int) -> dict[str, Any]:
    return {"InstanceType": "ml.m5.xlarge", "InstanceCount": count, "VolumeSizeInGB": 5}


def _seen(read_tar: Any, sm: Any, bucket: str, job: str) -> dict[str, Any]:
    return read_tar(sm, bucket, f"output/{job}/output/model.tar.gz")


@pytest.mark.parametrize("count", [2, 3])
def test_each_host_runs_with_its_own_host_config(
    count, sm, bucket, upload_code, training_request, run_training, read_tar, put_s3, log_lines
):
    put_s3("data/train/a.csv", "1,2\n")
    code = upload_code({"train.py": SEE})
    job = f"hosts-{count}"
    desc = run_training(
        training_request(
            job,
            code,
            hyperparameters={"epochs": 2},
            channels={"train": f"s3://{bucket}/data/train"},
            ResourceConfig=_resources(count),
        )
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    hosts = [f"algo-{k}" for k in range(1, count + 1)]
    files = _seen(read_tar, sm, bucket, job)
    assert sorted(files) == sorted([f"{h}.json" for h in hosts] + ["written-by.txt"])
    for host in hosts:
        seen = json.loads(files[f"{host}.json"])
        rc = seen["resourceconfig"]
        assert rc["current_host"] == host
        assert rc["hosts"] == hosts
        assert rc["current_instance_type"] == "ml.m5.xlarge"
        assert rc["current_group_name"] == "homogeneousCluster"
        assert rc["instance_groups"] == [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.xlarge",
                "hosts": hosts,
            }
        ]
        assert rc["network_interface_name"] == "eth0"
        env = seen["env"]
        assert env["SM_CURRENT_HOST"] == host
        assert json.loads(env["SM_HOSTS"]) == hosts
        assert json.loads(env["SM_CURRENT_INSTANCE_GROUP_HOSTS"]) == hosts
        assert json.loads(env["SM_TRAINING_ENV"])["is_master"] is (host == "algo-1")
        assert json.loads(env["SM_USER_ARGS"]) == ["--epochs", "2"]
        # The PyTorch container's rendezvous variables, the same on every host.
        assert env["MASTER_PORT"] == "7777"
        assert seen["channels"] == ["train"]
    # The first host's copy of a file every host wrote is the one kept, and the clash logged.
    assert files["written-by.txt"] == b"algo-1"
    assert any("written-by.txt is written by algo-1 and algo-2" in line for line in log_lines.lines)
    outputs = read_tar(sm, bucket, f"output/{job}/output/output.tar.gz")
    assert outputs == {f"{h}.txt": f"output of {h}".encode() for h in hosts}
    # Live lines prefixed by host; one CloudWatch stream per host.
    for host in hosts:
        assert any(line.startswith(f"[{job}/{host}] host {host}") for line in log_lines.lines)
    streams = boto3.client("logs").describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{job}/"
    )["logStreams"]
    assert sorted(s["logStreamName"].rsplit("-", 1)[0] for s in streams) == [
        f"{job}/{h}" for h in hosts
    ]
    transitions = [t["Status"] for t in desc["SecondaryStatusTransitions"]]
    assert transitions == ["Starting", "Downloading", "Training", "Uploading", "Completed"]


def test_host_names_resolve_in_namespace_mode_and_fallback_says_what_it_cannot(
    container_mode, sm, bucket, upload_code, training_request, run_training, read_tar, log_lines
):
    code = upload_code({"train.py": SEE})
    job = f"resolve-{container_mode}"
    desc = run_training(training_request(job, code, ResourceConfig=_resources(3)))
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    files = _seen(read_tar, sm, bucket, job)
    for host in ("algo-1", "algo-2", "algo-3"):
        seen = json.loads(files[f"{host}.json"])
        if container_mode == "namespace":
            assert seen["resolved"] == {f"algo-{k}": f"127.0.0.{k}" for k in (1, 2, 3)}
            assert seen["cwd"] == "/opt/ml/code"
            assert seen["env"]["MASTER_ADDR"] == "algo-1"
        else:
            assert all(v.startswith("unresolved") for v in seen["resolved"].values())
            assert seen["env"]["MASTER_ADDR"] == "127.0.0.1"
    if container_mode == "fallback":
        assert any(
            "MASTER_ADDR and torchrun's --master_addr are 127.0.0.1" in line
            for line in log_lines.lines
        )
    # Each host's tree on disk.
    hosts_dir = Path(sm.workspace) / "jobs" / job / "hosts"
    assert sorted(p.name for p in hosts_dir.iterdir() if p.is_dir()) == [
        "algo-1",
        "algo-2",
        "algo-3",
    ]


def test_instance_groups_give_each_host_its_group_and_channels(
    sm, bucket, script_request, run_training, read_tar, put_s3
):
    put_s3("data/train/a.csv", "1\n")
    put_s3("data/extra/b.csv", "2\n")
    request = script_request(
        "hetero",
        SEE,
        channels={"train": f"s3://{bucket}/data/train", "extra": f"s3://{bucket}/data/extra"},
        ResourceConfig={
            "VolumeSizeInGB": 5,
            "InstanceGroups": [
                {"InstanceGroupName": "data", "InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
                {"InstanceGroupName": "train", "InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
            ],
        },
    )
    # The "extra" channel goes to the "train" group only (S3DataSource.InstanceGroupNames).
    request["InputDataConfig"][1]["DataSource"]["S3DataSource"]["InstanceGroupNames"] = ["train"]
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    files = _seen(read_tar, sm, bucket, "hetero")
    groups = [
        {"instance_group_name": "data", "instance_type": "ml.c5.xlarge", "hosts": ["algo-1"]},
        {
            "instance_group_name": "train",
            "instance_type": "ml.m5.xlarge",
            "hosts": ["algo-2", "algo-3"],
        },
    ]
    expect = {
        "algo-1": ("data", "ml.c5.xlarge", ["algo-1"], ["train"]),
        "algo-2": ("train", "ml.m5.xlarge", ["algo-2", "algo-3"], ["extra", "train"]),
        "algo-3": ("train", "ml.m5.xlarge", ["algo-2", "algo-3"], ["extra", "train"]),
    }
    for host, (group, itype, group_hosts, channels) in expect.items():
        seen = json.loads(files[f"{host}.json"])
        rc, env = seen["resourceconfig"], seen["env"]
        assert (rc["current_host"], rc["current_group_name"], rc["current_instance_type"]) == (
            host,
            group,
            itype,
        )
        assert rc["hosts"] == ["algo-1", "algo-2", "algo-3"]
        assert rc["instance_groups"] == groups
        assert env["SM_CURRENT_INSTANCE_GROUP"] == group
        assert env["SM_CURRENT_INSTANCE_TYPE"] == itype
        assert json.loads(env["SM_CURRENT_INSTANCE_GROUP_HOSTS"]) == group_hosts
        assert json.loads(env["SM_INSTANCE_GROUPS"]) == ["data", "train"]
        assert env["SM_IS_HETERO"] == "true"
        assert seen["channels"] == channels
        assert json.loads(env["SM_CHANNELS"]) == channels


def test_instance_group_names_must_name_a_group(sm, bucket, upload_code, training_request):
    code = upload_code({"train.py": SEE})
    request = training_request(
        "bad-group",
        code,
        channels={"train": f"s3://{bucket}/data/train"},
        ResourceConfig={
            "VolumeSizeInGB": 5,
            "InstanceGroups": [
                {"InstanceGroupName": "a", "InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
            ],
        },
    )
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["InstanceGroupNames"] = ["b"]
    with pytest.raises(ValidationError, match="InstanceGroupNames.*names no instance group"):
        sm.create_training_job(**request)


def test_host_limit_names_its_setting(monkeypatch, sm, upload_code, training_request):
    monkeypatch.setenv("SMSIM_MAX_HOSTS", "2")
    code = upload_code({"train.py": SEE})
    with pytest.raises(ValidationError, match=r"at most 2 per job \(\$SMSIM_MAX_HOSTS\)"):
        sm.create_training_job(**training_request("three", code, ResourceConfig=_resources(3)))


@pytest.mark.skipif(shutil.which("mpirun") is not None, reason="mpirun is installed here")
def test_mpi_distribution_without_mpirun_is_refused_naming_the_fix(
    sm, upload_code, training_request
):
    code = upload_code({"train.py": SEE})
    request = training_request(
        "mpi",
        code,
        hyperparameters={"sagemaker_mpi_enabled": True},
        ResourceConfig=_resources(2),
    )
    with pytest.raises(UnsupportedFeature, match="mpirun.*not on PATH.*openmpi-bin"):
        sm.create_training_job(**request)


# -- one host failing, stop, time limit ---------------------------------------------------

# algo-1 records its pid and waits; algo-2 (once algo-1 runs) fails with a failure file.
WAIT_OR_FAIL = """\
import json, os, pathlib, sys, time
shared = pathlib.Path(json.loads(os.environ["SM_HPS"])["shared"])
host = os.environ["SM_CURRENT_HOST"]
(shared / (host + ".pid")).write_text(str(os.getpid()))
if host == "algo-2" and os.environ.get("FAIL_ON_ALGO_2"):
    while not (shared / "algo-1.pid").exists():
        time.sleep(0.05)
    pathlib.Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("ValueError: bad shard 2")
    sys.exit(3)
print(host, "waiting", flush=True)
time.sleep(600)
"""


@pytest.fixture
def two_hosts_waiting(
    tmp_path: Path, upload_code: Any, training_request: Any
) -> tuple[Path, Callable[..., dict[str, Any]]]:
    """(the shared dir, ``request(name, **extra)``): the request of a job of WAIT_OR_FAIL on
    two hosts, each writing its pid to the shared dir (``extra``: more request members)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    code = upload_code({"train.py": WAIT_OR_FAIL})

    def request(name: str, **extra: Any) -> dict[str, Any]:
        hyperparameters = {"shared": str(shared)}
        resources = _resources(2)
        return training_request(
            name, code, hyperparameters=hyperparameters, ResourceConfig=resources, **extra
        )

    return shared, request


def _pids(shared: Path, hosts: list[str]) -> dict[str, int]:
    return {h: int((shared / f"{h}.pid").read_text()) for h in hosts}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_one_host_failing_fails_the_job_naming_it_and_stops_the_others(
    container_mode, two_hosts_waiting, run_training, log_lines
):
    shared, request = two_hosts_waiting
    desc = run_training(request("one-fails", Environment={"FAIL_ON_ALGO_2": "1"}))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"] == "ValueError: bad shard 2 (algo-2)"
    assert desc["SecondaryStatus"] == "Failed"
    pids = _pids(shared, ["algo-1", "algo-2"])
    assert _gone(pids["algo-1"]) and _gone(pids["algo-2"])
    assert any(
        "algo-2 ended the job (exit code 3): stopping algo-1" in line for line in log_lines.lines
    )


def _wait_for_files(paths: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        assert time.monotonic() < deadline, f"never written: {paths}"
        time.sleep(0.05)


def test_stop_training_job_stops_every_host(container_mode, sm, two_hosts_waiting):
    shared, request = two_hosts_waiting
    sm.create_training_job(**request("stop-all"))
    _wait_for_files([shared / "algo-1.pid", shared / "algo-2.pid"])
    sm.stop_training_job(TrainingJobName="stop-all")
    desc = sm.wait_for_training_job("stop-all", timeout=60)
    assert desc["TrainingJobStatus"] == "Stopped"
    pids = _pids(shared, ["algo-1", "algo-2"])
    assert all(_gone(pid) for pid in pids.values())


def test_max_runtime_stops_every_host(two_hosts_waiting, run_training):
    shared, request = two_hosts_waiting
    desc = run_training(request("too-long", StoppingCondition={"MaxRuntimeInSeconds": 3}))
    assert (desc["TrainingJobStatus"], desc["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert all(_gone(pid) for pid in _pids(shared, ["algo-1", "algo-2"]).values())


def test_socket_module_is_what_the_scripts_use():
    # The scripts above resolve names with socket.gethostbyname: on this machine (outside
    # any job's namespace) algo-2 must not resolve, or the namespace test proves nothing.
    with pytest.raises(OSError):
        socket.gethostbyname("algo-2")


CHECKPOINTS = """\
import os
ckpt = os.environ["SM_CHECKPOINT_DIR"]
host = os.environ["SM_CURRENT_HOST"]
restored = sorted(os.listdir(ckpt))
with open(os.path.join(ckpt, host + ".ckpt"), "w") as f:
    f.write("state of " + host + " after " + ",".join(restored))
"""


def test_every_host_restores_and_syncs_the_one_checkpoint_prefix(
    sm, bucket, script_request, run_training, put_s3
):
    put_s3("ckpt/job/previous.ckpt", "old")
    desc = run_training(
        script_request(
            "ckpt-2",
            CHECKPOINTS,
            ResourceConfig=_resources(2),
            CheckpointConfig={"S3Uri": f"s3://{bucket}/ckpt/job"},
        )
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    listing = sm.s3.list_objects_v2(Bucket=bucket, Prefix="ckpt/job/")["Contents"]
    objects = {
        o["Key"]: sm.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing
    }
    # Each host got the prefix's checkpoint before it started, and its own file reached S3.
    assert objects == {
        "ckpt/job/previous.ckpt": b"old",
        "ckpt/job/algo-1.ckpt": b"state of algo-1 after previous.ckpt",
        "ckpt/job/algo-2.ckpt": b"state of algo-2 after previous.ckpt",
    }


LIST_CHANNEL = """\
import os
host = os.environ["SM_CURRENT_HOST"]
names = sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], host + ".txt"), "w") as f:
    f.write(",".join(names))
"""


def test_sharded_by_s3_key_splits_7_objects_over_3_hosts(
    sm, bucket, upload_code, training_request, run_training, read_tar, put_s3
):
    for i in range(7):
        put_s3(f"data/shards/part-{i}.csv", f"{i}\n")
    code = upload_code({"train.py": LIST_CHANNEL})
    request = training_request(
        "sharded-3",
        code,
        channels={"train": f"s3://{bucket}/data/shards"},
        ResourceConfig=_resources(3),
    )
    source = request["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    source["S3DataDistributionType"] = "ShardedByS3Key"
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    outputs = read_tar(sm, bucket, "output/sharded-3/output/output.tar.gz")
    shares = {name[: -len(".txt")]: body.decode().split(",") for name, body in outputs.items()}
    every = [n for share in shares.values() for n in share]
    # Every object on exactly one host, about 1/3 each (the documented round-robin over
    # the sorted keys: host k gets keys k-1, k-1+3, …).
    assert sorted(every) == [f"part-{i}.csv" for i in range(7)]
    assert shares == {
        "algo-1": ["part-0.csv", "part-3.csv", "part-6.csv"],
        "algo-2": ["part-1.csv", "part-4.csv"],
        "algo-3": ["part-2.csv", "part-5.csv"],
    }
