"""50 tiny training jobs created at once by 4 client processes through one `smsim serve`.

    .venv/bin/python benchmarks/load.py [--jobs 50] [--clients 4]

What it checks and measures (issue 17, "Load"):

* every job Completed, and no cross-talk: each job's script writes a marker of its own
  (a hyperparameter) into its model; each client downloads every model.tar.gz it
  created and finds exactly its job's marker there;
* the server's peak RSS (its own process, and with its job processes), sampled with
  psutil every 50 ms;
* the wall time from the first create to the last Completed, against the ideal of
  ``jobs × one job's time / cores`` (one job's time: the median of 3 jobs run alone
  through the same server first, create → Completed as a client sees it).

The clients are separate processes (multiprocessing, spawn) with boto3 clients of their
own, as independent users of one server would be.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SMSIM = str(Path(sys.executable).parent / "smsim")
BUCKET = "load"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
SCRIPT = """
import os, sys
marker = sys.argv[sys.argv.index("--marker") + 1]
with open(os.path.join(os.environ["SM_MODEL_DIR"], "marker.txt"), "w") as f:
    f.write(marker)
print("marker", marker)
"""


def _clients(env: dict[str, str]) -> tuple[Any, Any]:
    import boto3

    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    url = env["AWS_ENDPOINT_URL"]
    return session.client("sagemaker", endpoint_url=url), session.client("s3", endpoint_url=url)


def _request(name: str, marker: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/code.tar.gz"',
            "marker": json.dumps(marker),
        },
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _wait(sm: Any, name: str) -> dict[str, Any]:
    while True:
        desc = sm.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return desc  # type: ignore[no-any-return]
        time.sleep(0.2)


def _marker_in_model(s3: Any, desc: dict[str, Any]) -> str:
    uri = desc["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{BUCKET}/")
    body = s3.get_object(Bucket=BUCKET, Key=uri)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("marker.txt")
        return member.read().decode() if member else ""


def client(index: int, names: list[str], env: dict[str, str], start: Any) -> dict[str, Any]:
    """One client process: create its jobs at once, wait for them, check their models."""
    sm, s3 = _clients(env)
    start.wait()  # every client starts creating at the same moment
    for name in names:
        sm.create_training_job(**_request(name, f"marker-of-{name}"))
    statuses, wrong = {}, []
    for name in names:
        desc = _wait(sm, name)
        statuses[name] = desc["TrainingJobStatus"]
        if desc["TrainingJobStatus"] == "Completed":
            found = _marker_in_model(s3, desc)
            if found != f"marker-of-{name}":
                wrong.append((name, found))
    return {"client": index, "statuses": statuses, "wrong": wrong, "end": time.time()}


def _serve(workspace: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [SMSIM, "serve", "--port", "0", "--workspace", str(workspace), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    text = ""
    while not text.endswith("\n}\n"):
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("smsim serve exited before its banner")
        text += line
    return proc, json.loads(text)["env"]


class RssSampler(threading.Thread):
    """Peak RSS of a process alone and with its descendants, every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.peak_own = self.peak_total = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.05):
            try:
                own = self.proc.memory_info().rss
                total = own
                for child in self.proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):  # it ended meanwhile
                        total += child.memory_info().rss
            except psutil.Error:
                return
            self.peak_own, self.peak_total = max(self.peak_own, own), max(self.peak_total, total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="smsim-load-") as tmp:
        server, env = _serve(Path(tmp) / "ws")
        try:
            sm, s3 = _clients(env)
            s3.create_bucket(Bucket=BUCKET)
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                info = tarfile.TarInfo("train.py")
                info.size = len(SCRIPT)
                tar.addfile(info, io.BytesIO(SCRIPT.encode()))
            s3.put_object(Bucket=BUCKET, Key="code.tar.gz", Body=buf.getvalue())
            alone = []
            for i in range(3):
                t0 = time.perf_counter()
                sm.create_training_job(**_request(f"alone-{i}", f"marker-of-alone-{i}"))
                assert _wait(sm, f"alone-{i}")["TrainingJobStatus"] == "Completed"
                alone.append(time.perf_counter() - t0)
            one = statistics.median(alone)
            idle_rss = psutil.Process(server.pid).memory_info().rss

            names = [f"load-{i:03d}" for i in range(args.jobs)]
            shares = [names[k :: args.clients] for k in range(args.clients)]
            ctx = multiprocessing.get_context("spawn")
            with ctx.Manager() as manager, ctx.Pool(args.clients) as pool:
                start = manager.Event()
                pending = [
                    pool.apply_async(client, (k, share, env, start))
                    for k, share in enumerate(shares)
                ]
                time.sleep(2)  # the pool's processes import boto3 first
                sampler = RssSampler(server.pid)
                sampler.start()
                t0 = time.time()
                start.set()
                results = [p.get(timeout=1800) for p in pending]
                sampler.halt.set()
            wall = max(r["end"] for r in results) - t0
        finally:
            server.terminate()
            server.wait(60)
    statuses = [s for r in results for s in r["statuses"].values()]
    wrong = [w for r in results for w in r["wrong"]]
    completed = statuses.count("Completed")
    ideal = args.jobs * one / cores
    print(f"{args.jobs} jobs from {args.clients} client processes through one smsim serve")
    print(f"  Completed            {completed}/{len(statuses)}")
    print(f"  cross-talk           {len(wrong)} job(s) with another job's marker {wrong[:3]}")
    print(
        f"  one job alone        {one:.2f} s (median of 3: {', '.join(f'{t:.2f}' for t in alone)})"
    )
    print(f"  wall, all {args.jobs:3d} jobs   {wall:.1f} s")
    print(f"  ideal ({args.jobs} x one / {cores} cores) {ideal:.1f} s -> ratio {wall / ideal:.2f}")
    mb = 2**20
    print(
        f"  server RSS           idle {idle_rss / mb:.0f} MB, peak {sampler.peak_own / mb:.0f} MB"
    )
    print(f"  server + jobs RSS    peak {sampler.peak_total / mb:.0f} MB")
    if completed != args.jobs or wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
