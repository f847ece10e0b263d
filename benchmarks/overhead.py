"""Overhead of a job run through smsim against the bare script, side by side in one run.

    .venv/bin/python benchmarks/overhead.py [--rows 6000 --epochs 5] [--repeat 3]
                                            [--staging-mb 1024] [--skip-train]

Three figures (targets from issue 4):

1. tiny job — a trivial toolkit-convention script: smsim wall time (create →
   Completed, artifacts uploaded) minus ``python train.py`` on the same staged
   tree. Target: ≤ 1 s absolute overhead.
2. real training — dockers/pytorch_bsm/train.py on synthetic data sized to
   train for ~20 s: smsim / bare ratio. Target: ≤ 1.10.
3. staging — peak RSS of this (orchestrator) process, embedded S3 included, while
   1 GB of channel data is uploaded to the embedded S3 and then staged into a job's
   input dir. Target: ≤ 300 MB. (Run before the training figure, which loads pandas
   into this process to synthesize data.)

The bare baseline runs the same interpreter and script with the same
environment a job gets, against a host tree that smsim already staged, so the
difference is exactly what smsim adds: request checks, S3 staging, config
files, log streaming, packing and uploading artifacts, description updates.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator import LocalSageMaker  # noqa: E402
from simulator.s3 import pack_tar_gz  # noqa: E402

BUCKET = "smsim-bench"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TINY_SCRIPT = """
import os
print("epoch=1 loss=0.5")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write("m")
"""
NOOP_SCRIPT = """
import os
n = sum(len(fs) for _, _, fs in os.walk(os.environ["SM_CHANNEL_TRAIN"]))
print("files", n)
"""


def quiet(_: str) -> None:
    """Log sink for the benchmark: lines are still written to logs/, not printed."""


def request(name: str, code: str, channels: dict[str, str], hps: dict[str, Any]) -> dict:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "bench:latest",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9\.]+)"}],
        },
        "RoleArn": ROLE,
        "HyperParameters": {
            **{k: json.dumps(v) for k, v in hps.items()},
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(code),
        },
        "InputDataConfig": [
            {
                "ChannelName": ch,
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
            }
            for ch, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def upload_code(sm: LocalSageMaker, src: Path, key: str, tmp: Path) -> str:
    archive = pack_tar_gz(src, tmp / f"{key.replace('/', '_')}.tar.gz")
    sm.s3.upload_file(str(archive), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def run_job(sm: LocalSageMaker, req: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    sm.create_training_job(**req)
    desc = sm.wait_for_training_job(req["TrainingJobName"])
    elapsed = time.perf_counter() - start
    if desc["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{req['TrainingJobName']}: {desc.get('FailureReason')}")
    return elapsed, desc


def run_bare(sm: LocalSageMaker, job: str, hps: dict[str, Any]) -> float:
    """`python train.py --k v …` on the tree smsim staged for ``job`` (outputs cleared)."""
    host = sm.workspace / "jobs" / job / "hosts" / "algo-1"
    for sub in ("model", "output/data", "checkpoints"):
        for p in sorted((host / sub).rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
    env = {**os.environ, **sm.aws_env(), "SAGEMAKER_BASE_DIR": str(host), "PYTHONUNBUFFERED": "1"}
    env["SM_MODEL_DIR"] = str(host / "model")
    env["SM_CHANNEL_TRAIN"] = str(host / "input/data/train")
    args = []
    for k in sorted(hps):
        args += [f"--{k}", str(hps[k])]
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=host / "code",
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def bench_tiny(sm: LocalSageMaker, tmp: Path, repeat: int) -> dict[str, Any]:
    src = tmp / "tiny-src"
    src.mkdir()
    (src / "train.py").write_text(TINY_SCRIPT)
    code = upload_code(sm, src, "tiny/sourcedir.tar.gz", tmp)
    sm.s3.put_object(Bucket=BUCKET, Key="tiny/data/train/a.csv", Body=b"1\n2\n")
    channels = {"train": f"s3://{BUCKET}/tiny/data/train"}
    run_job(sm, request("tiny-warm", code, channels, {}))  # warm-up, not counted
    smsim_times, bare_times = [], []
    for i in range(repeat):  # interleaved, so both sides see the same machine load
        bare_times.append(run_bare(sm, "tiny-warm", {}))
        smsim_times.append(run_job(sm, request(f"tiny-{i}", code, channels, {}))[0])
    s, b = statistics.median(smsim_times), statistics.median(bare_times)
    return {
        "smsim_s": round(s, 3),
        "bare_s": round(b, 3),
        "overhead_s": round(s - b, 3),
        "target": "overhead <= 1.0 s",
        "ok": s - b <= 1.0,
    }


def bench_train(sm: LocalSageMaker, tmp: Path, rows: int, epochs: int, repeat: int) -> dict:
    from simulator.datasets import write_dataset

    data = write_dataset(tmp / "bsm", rows=rows, seed=11)
    channels = {}
    for split, path in data["files"].items():
        key = f"bsm/data/{split}/{Path(path).name}"
        sm.s3.upload_file(path, BUCKET, key)
        channels[split] = f"s3://{BUCKET}/bsm/data/{split}"
    code = upload_code(sm, REPO / "dockers" / "pytorch_bsm", "bsm/sourcedir.tar.gz", tmp)
    hps = {"max_epochs": epochs, "model_class": "multimodal_cnn", "lr": 0.01}
    # Warm-up job (not counted): torch/onnx load from a cold page cache only once, and
    # its staged tree is the one the bare runs use.
    run_job(sm, request("bsm-warm", code, channels, hps))
    smsim_times, bare_times = [], []
    for i in range(repeat):  # interleaved, so both sides see the same machine load
        bare_times.append(run_bare(sm, "bsm-warm", hps))
        smsim_times.append(run_job(sm, request(f"bsm-{i}", code, channels, hps))[0])
    s, b = statistics.median(smsim_times), statistics.median(bare_times)
    return {
        "rows": rows,
        "epochs": epochs,
        "smsim_s": round(s, 2),
        "bare_s": round(b, 2),
        "ratio": round(s / b, 3),
        "target": "ratio <= 1.10",
        "ok": s / b <= 1.10,
    }


class PeakRss:
    """Samples this process's RSS (moto's server thread included) every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def bench_staging(sm: LocalSageMaker, tmp: Path, total_mb: int) -> dict[str, Any]:
    chunk_mb = 8
    start_rss = PeakRss()._rss()
    blob = tmp / "chunk.bin"
    with open(blob, "wb") as f:
        for _ in range(chunk_mb):
            f.write(os.urandom(1024 * 1024))
    src = tmp / "noop-src"
    src.mkdir()
    (src / "train.py").write_text(NOOP_SCRIPT)
    code = upload_code(sm, src, "big/sourcedir.tar.gz", tmp)
    n = max(1, total_mb // chunk_mb)
    with PeakRss() as upload_rss:
        for i in range(n):
            sm.s3.upload_file(str(blob), BUCKET, f"big/data/train/part-{i:04d}.bin")
    before = PeakRss()._rss()
    with PeakRss() as rss:
        start = time.perf_counter()
        run_job(sm, request("staging-1gb", code, {"train": f"s3://{BUCKET}/big/data/train"}, {}))
        elapsed = time.perf_counter() - start
    staged = sum(
        p.stat().st_size
        for p in (sm.workspace / "jobs/staging-1gb/hosts/algo-1/input/data/train").rglob("*")
    )
    mb = 1024 * 1024
    return {
        "staged_mb": round(staged / mb),
        "rss_at_start_mb": round(start_rss / mb),
        "seconds": round(elapsed, 2),
        "rss_before_mb": round(before / mb),
        "peak_rss_mb": round(rss.peak / mb),
        "peak_rss_during_upload_mb": round(upload_rss.peak / mb),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "target": "peak RSS <= 300 MB",
        "ok": rss.peak / mb <= 300,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--staging-mb", type=int, default=1024)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-staging", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="smsim-bench-") as tmpdir:
        tmp = Path(tmpdir)
        with LocalSageMaker(workspace=tmp / "ws", log_sink=quiet) as sm:
            sm.s3.create_bucket(Bucket=BUCKET)
            results["tiny_job"] = bench_tiny(sm, tmp, args.repeat)
            print(json.dumps({"tiny_job": results["tiny_job"]}), flush=True)
            if not args.skip_staging:
                results["staging"] = bench_staging(sm, tmp, args.staging_mb)
                print(json.dumps({"staging": results["staging"]}), flush=True)
            if not args.skip_train:
                results["real_training"] = bench_train(sm, tmp, args.rows, args.epochs, args.repeat)
                print(json.dumps({"real_training": results["real_training"]}), flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
