"""Distributed training across smsim's hosts (#13): torchrun as the toolkit launches it,
and the real SageMaker training toolkit's view of each host.

* torchrun on 2 hosts x 1 process, gloo: an all_reduce across the hosts gives the sum of
  every rank's value, which only a working rendezvous (algo-1:7777) can produce;
* the real ``sagemaker-training`` toolkit, imported inside each host of a 2-host job:
  its ``Environment()`` (read from the files smsim wrote) must export exactly the SM_*
  variables smsim set, and its ``TorchDistributedRunner`` must build the command smsim ran.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator.hosts import namespace
from simulator.hosts.local import MODE_ENV

ALL_REDUCE = """\
import json, os
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)  # sum over every rank of every host
host = os.environ["SM_CURRENT_HOST"]
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], host + ".json"), "w") as f:
    json.dump({"rank": rank, "world": world, "sum": value.item(),
               "local_rank": int(os.environ["LOCAL_RANK"])}, f)
if rank == 0:  # a well-behaved script writes the model once
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "reduced.txt"), "w") as f:
        f.write(str(value.item()))
dist.barrier()
dist.destroy_process_group()
"""

TORCH_DISTRIBUTED = {"sagemaker_torch_distributed_enabled": True}
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"


def _two_hosts() -> dict[str, Any]:
    return {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 5}


def test_torchrun_on_two_hosts_all_reduces_across_them(
    container_mode, sm, bucket, upload_code, training_request, run_training, read_tar, log_lines
):
    pytest.importorskip("torch")
    code = upload_code({"train.py": ALL_REDUCE})
    job = f"ddp-{container_mode}"
    desc = run_training(
        training_request(job, code, hyperparameters=TORCH_DISTRIBUTED, ResourceConfig=_two_hosts()),
        timeout=300,
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    outputs = read_tar(sm, bucket, f"output/{job}/output/output.tar.gz")
    seen = {name: json.loads(body) for name, body in outputs.items()}
    # ranks 0 and 1 (1.0 + 2.0): node_rank follows the host's place in the sorted hosts.
    assert seen == {
        "algo-1.json": {"rank": 0, "world": 2, "sum": 3.0, "local_rank": 0},
        "algo-2.json": {"rank": 1, "world": 2, "sum": 3.0, "local_rank": 0},
    }
    assert read_tar(sm, bucket, f"output/{job}/output/model.tar.gz") == {"reduced.txt": b"3.0"}
    master = "algo-1" if container_mode == "namespace" else "127.0.0.1"
    for rank, host in enumerate(["algo-1", "algo-2"]):
        (running,) = [
            line for line in log_lines.lines if line.startswith(f"[{job}/{host}] [smsim] running:")
        ]
        assert running.split("running: ", 1)[1].split(" ", 1)[1] == (
            f"--nnodes 2 --nproc_per_node 1 --master_addr {master} --master_port 7777 "
            f"--node_rank {rank} train.py"
        )


# Inside each host: the real toolkit's Environment and torchrun command, beside what smsim set.
TOOLKIT = """\
import json, os
from sagemaker_training import environment, runner

env = environment.Environment()
theirs = env.to_env_vars()
ours = {k: os.environ.get(k) for k in theirs}
command = runner.get(runner.RunnerType.TorchDistributed)._create_command()
parent = open("/proc/%d/cmdline" % os.getppid()).read().split("\\0")
report = {
    "theirs": theirs, "ours": ours, "toolkit_command": command, "parent_command": parent,
    "master_hostname": env.master_hostname, "is_master": env.is_master,
    "distribution_hosts": env.distribution_hosts,
    "NCCL_SOCKET_IFNAME": os.environ.get("NCCL_SOCKET_IFNAME"),
    "MASTER_ADDR": os.environ.get("MASTER_ADDR"), "MASTER_PORT": os.environ.get("MASTER_PORT"),
}
with open(os.path.join(env.output_data_dir, env.current_host + ".json"), "w") as f:
    json.dump(report, f)
"""


def test_the_real_toolkit_sees_what_smsim_set_on_each_host(
    monkeypatch, sm, bucket, script_request, run_training, read_tar, put_s3
):
    # In a namespace, as in a container: /opt/ml, and algo-k resolving.
    if not namespace.probe().available:
        pytest.skip(f"no mount namespace here: {namespace.probe().reason}")
    monkeypatch.setenv(MODE_ENV, "namespace")
    pytest.importorskip("torch")
    pytest.importorskip(
        "sagemaker_training", reason="needs the sagemaker-training toolkit (.venv: make install)"
    )
    put_s3("data/train/a.csv", "1\n")
    desc = run_training(
        script_request(
            "toolkit",
            TOOLKIT,
            hyperparameters={**TORCH_DISTRIBUTED, "lr": 0.1, "layers": [2, 3]},
            channels={"train": f"s3://{bucket}/data/train"},
            ResourceConfig=_two_hosts(),
        ),
        timeout=300,
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    outputs = read_tar(sm, bucket, "output/toolkit/output/output.tar.gz")
    for rank, host in enumerate(["algo-1", "algo-2"]):
        report = json.loads(outputs[f"{host}.json"])
        theirs, ours = report["theirs"], report["ours"]
        # Every variable the toolkit exports, smsim set to the same value — except the
        # whole-Environment dump, compared member by member below.
        differ = {k for k in theirs if theirs[k] != ours[k]} - {"SM_TRAINING_ENV"}
        assert not differ, {k: (theirs[k], ours[k]) for k in differ}
        their_env = json.loads(theirs["SM_TRAINING_ENV"])
        our_env = json.loads(ours["SM_TRAINING_ENV"])
        keys = set(their_env) | set(our_env)
        assert {
            k: (their_env.get(k), our_env.get(k))
            for k in keys
            if their_env.get(k) != our_env.get(k)
        } == {}
        assert theirs["SM_CURRENT_HOST"] == host
        assert report["master_hostname"] == "algo-1"
        assert report["is_master"] is (rank == 0)
        assert report["distribution_hosts"] == ["algo-1", "algo-2"]
        assert report["NCCL_SOCKET_IFNAME"] == "eth0"
        assert (report["MASTER_ADDR"], report["MASTER_PORT"]) == ("algo-1", "7777")
        # The toolkit's torchrun command is the one smsim started (smsim names the
        # image's torchrun by its path; the toolkit finds it on PATH).
        command, parent = report["toolkit_command"], report["parent_command"]
        assert command[0] == "torchrun"
        assert command[1:] == parent[parent.index("--nnodes") :][: len(command) - 1]
        assert command[1:11] == [
            "--nnodes",
            "2",
            "--nproc_per_node",
            "1",
            "--master_addr",
            "algo-1",
            "--master_port",
            "7777",
            "--node_rank",
            str(rank),
        ]


@pytest.mark.sdk(2)
def test_sdk_estimator_with_two_instances_and_torch_distributed(sm, sdk_estimator, read_tar):
    """``PyTorch(instance_count=2, distribution={"torch_distributed": …}).fit()``, as a
    user writes it: the SDK's hyperparameter reaches the toolkit's torchrun launch."""
    pytest.importorskip("torch")
    pytest.importorskip("sagemaker")
    estimator = sdk_estimator(
        ALL_REDUCE,
        image_uri=IMAGE,  # the SDK checks instance types against versions only without it
        instance_count=2,
        distribution={"torch_distributed": {"enabled": True}},
    )
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name
    desc = sm.wait_for_training_job(name, timeout=300)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert json.loads(desc["HyperParameters"]["sagemaker_torch_distributed_enabled"]) is True
    assert desc["ResourceConfig"]["InstanceCount"] == 2
    bucket, key = estimator.model_data[len("s3://") :].split("/", 1)
    assert read_tar(sm, bucket, key) == {"reduced.txt": b"3.0"}
