"""DDP training of the BSM model through smsim (2 hosts x 1) against torchrun (1 host x 2).

    .venv/bin/python benchmarks/distributed.py [--rows 3000 --epochs 3] [--repeat 3] [--json]

Side by side in one run, on the same staged data:

- smsim: a CreateTrainingJob of dockers/pytorch_bsm/train.py with ResourceConfig
  InstanceCount 2 and the hyperparameter ``sagemaker_torch_distributed_enabled`` (what
  the SDK sends for ``distribution={"torch_distributed": {"enabled": True}}``), so every
  host runs its own torchrun (``--nnodes 2 --nproc_per_node 1``): wall time from create
  to Completed, artifacts uploaded;
- baseline: ``torchrun --nnodes 1 --nproc_per_node 2 train.py`` on the tree smsim staged
  for algo-1 (outputs cleared), same interpreter and environment.

Both train the same 2-process DDP job over gloo; the figure is the ratio of medians,
smsim / torchrun (target <= 1.15). Runs are interleaved so machine load hits both
alike. When smsim refuses a multi-host job, the benchmark says "multi-host not
available" with smsim's reason and reports the baseline alone.

Exit status 1 when the ratio is above the target.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import LocalSageMaker  # noqa: E402
from simulator.s3 import pack_tar_gz  # noqa: E402

BUCKET = "smsim-bench"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TARGET = 1.15
HOSTS = 2


class Lines:
    """Log sink keeping the job lines (train.py's rank-0 lines tell the world size)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def request(name: str, code: str, channels: dict[str, str], hps: dict[str, Any]) -> dict:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "bench:latest", "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {
            **{k: json.dumps(v) for k, v in hps.items()},
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(code),
            # The SDK's encoding of distribution={"torch_distributed": {"enabled": True}}.
            "sagemaker_torch_distributed_enabled": json.dumps(True),
        },
        "InputDataConfig": [
            {
                "ChannelName": ch,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for ch, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": HOSTS,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def stage(sm: LocalSageMaker, tmp: Path, rows: int) -> tuple[str, dict[str, str], Path]:
    """Data channels and sourcedir.tar.gz in S3; the local data dir too."""
    from simulator.datasets import write_dataset

    data = write_dataset(tmp / "bsm", rows=rows, seed=7)
    channels = {}
    for split, path in data["files"].items():
        sm.s3.upload_file(path, BUCKET, f"bsm/data/{split}/{Path(path).name}")
        channels[split] = f"s3://{BUCKET}/bsm/data/{split}"
    archive = pack_tar_gz(REPO / "dockers" / "pytorch_bsm", tmp / "sourcedir.tar.gz")
    sm.s3.upload_file(str(archive), BUCKET, "bsm/sourcedir.tar.gz")
    return f"s3://{BUCKET}/bsm/sourcedir.tar.gz", channels, tmp / "bsm"


def run_job(sm: LocalSageMaker, req: dict[str, Any], log: Lines) -> float:
    start = time.perf_counter()
    sm.create_training_job(**req)
    desc = sm.wait_for_training_job(req["TrainingJobName"], timeout=3600)
    elapsed = time.perf_counter() - start
    if desc["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{req['TrainingJobName']}: {desc.get('FailureReason')}")
    if not any(f"world_size={HOSTS}" in line for line in log.lines):
        raise RuntimeError(f"{req['TrainingJobName']} did not train on {HOSTS} processes")
    return elapsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_torchrun(host: Path, code_dir: Path, env: dict[str, str]) -> float:
    """``torchrun --nnodes 1 --nproc_per_node 2 train.py`` on ``host`` (outputs cleared)."""
    for sub in ("model", "output/data", "checkpoints"):
        for p in sorted((host / sub).rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--nnodes", "1", "--nproc_per_node", str(HOSTS)]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), "train.py"]
    env = {**env, "SAGEMAKER_BASE_DIR": str(host), "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=code_dir, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or f"world_size={HOSTS}" not in proc.stdout:
        raise RuntimeError(f"torchrun failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed


def local_tree(tmp: Path, data_dir: Path, hps: dict[str, Any]) -> Path:
    """A /opt/ml tree for the baseline when smsim staged none (multi-host refused)."""
    host = tmp / "torchrun-host"
    (host / "input" / "config").mkdir(parents=True)
    (host / "input" / "data").symlink_to(data_dir)
    encoded = {k: json.dumps(v) for k, v in hps.items()}
    (host / "input/config/hyperparameters.json").write_text(json.dumps(encoded))
    return host


def bench(rows: int, epochs: int, repeat: int) -> dict[str, Any]:
    hps = {"max_epochs": epochs, "model_class": "multimodal_cnn", "early_stop_patience": 0}
    result: dict[str, Any] = {"rows": rows, "epochs": epochs, "processes": HOSTS}
    log = Lines()
    with tempfile.TemporaryDirectory(prefix="smsim-bench-ddp-") as tmpdir:
        tmp = Path(tmpdir)
        with LocalSageMaker(workspace=tmp / "ws", log_sink=log) as sm:
            sm.s3.create_bucket(Bucket=BUCKET)
            code, channels, data_dir = stage(sm, tmp, rows)
            env = {**os.environ, **sm.aws_env()}
            try:  # warm-up job (not counted); its algo-1 tree is the baseline's
                run_job(sm, request("ddp-warm", code, channels, hps), log)
            except Exception as exc:  # noqa: BLE001 - any refusal: report it, bench the rest
                if "InstanceCount" not in str(exc) and "multi" not in str(exc).lower():
                    raise
                result["multi_host"] = f"multi-host not available: {exc}"
                host = local_tree(tmp, data_dir, hps)
                code_dir = REPO / "dockers" / "pytorch_bsm"
                times = [run_torchrun(host, code_dir, env) for _ in range(repeat)]
                result["torchrun_s"] = round(statistics.median(times), 2)
                result.update(smsim_s=None, ratio=None, target=f"ratio <= {TARGET}", ok=None)
                return result
            host = sm.workspace / "jobs" / "ddp-warm" / "hosts" / "algo-1"
            smsim_times, torchrun_times = [], []
            for i in range(repeat):  # interleaved: both sides see the same machine load
                torchrun_times.append(run_torchrun(host, host / "code", env))
                smsim_times.append(run_job(sm, request(f"ddp-{i}", code, channels, hps), log))
    s, b = statistics.median(smsim_times), statistics.median(torchrun_times)
    result.update(
        smsim_s=round(s, 2),
        torchrun_s=round(b, 2),
        ratio=round(s / b, 3),
        target=f"ratio <= {TARGET}",
        ok=s / b <= TARGET,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.rows, args.epochs, args.repeat)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"BSM multimodal_cnn, {result['rows']} rows x {result['epochs']} epochs, DDP gloo")
        if "multi_host" in result:
            print(f"  {result['multi_host']}")
            print(f"  torchrun 1 host x 2   : {result['torchrun_s']:>7.2f} s (baseline only)")
        else:
            print(f"  smsim 2 hosts x 1     : {result['smsim_s']:>7.2f} s")
            print(f"  torchrun 1 host x 2   : {result['torchrun_s']:>7.2f} s")
            print(f"  ratio                 : {result['ratio']:.3f} (target <= {TARGET})")
    return 1 if result["ok"] is False else 0


if __name__ == "__main__":
    sys.exit(main())
