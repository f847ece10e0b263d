"""Per-job overhead of the Ray backend against the local backend, side by side in one run.

    .venv/bin/python benchmarks/ray_backend.py [--jobs 8] [--rounds 2] [--ray-address A]
                                               [--json]

Eight tiny training jobs (a script that prints one line and exits) created at once,
each from its own thread, through

- ``LocalSageMaker(backend="ray", ray_address=…)``: each host an actor on a Ray cluster
  of a head and 2 workers on loopback (``tests/ray_cluster.py``, started here unless
  ``--ray-address`` names one), and
- ``LocalSageMaker()``: the local backend, each host a process of this machine.

Per-job overhead = a job's wall time (its create → its waiter seeing Completed,
artifacts uploaded) minus the script's own time (``python train.py`` run bare by this
interpreter, median of 5); the figure is the median over the jobs of each backend, and
the difference ray - local (target <= 0.5 s, issue 19). Rounds alternate the backends
so machine load hits both alike; each backend's first job (the Ray connection, the
endpoint's warm-up) is not counted.

The test cluster's workers have 4 CPUs each and one ml.m5.xlarge host asks for 4
(``simulator/hosts/ray_resources.py``): the benchmark overrides the type to 1 CPU and no
memory so that all 8 jobs run at once on the cluster, as they do locally.

Exit status 1 when the difference is above the target.
"""

from __future__ import annotations

import argparse
import json
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
sys.path.insert(0, str(REPO / "tests"))  # the test cluster helper (tests/ray_cluster.py)

from simulator import LocalSageMaker  # noqa: E402
from simulator.s3 import pack_tar_gz  # noqa: E402

BUCKET = "smsim-bench"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.xlarge"
TARGET_S = 0.5
SCRIPT = 'print("tiny job done")\n'
# Small enough that the 2 workers (4 CPUs each) hold all 8 hosts at once.
FITS_ALL = {INSTANCE: {"num_cpus": 1, "num_gpus": 0, "memory": 0}}


def quiet(_: str) -> None:
    """Log sink for the benchmark: lines are still written to logs/, not printed."""


def request(name: str, code: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": "bench:latest", "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(code),
        },
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": INSTANCE, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def stage(sm: LocalSageMaker, src: Path, tmp: Path) -> str:
    sm.s3.create_bucket(Bucket=BUCKET)
    archive = pack_tar_gz(src, tmp / "sourcedir.tar.gz")
    sm.s3.upload_file(str(archive), BUCKET, "tiny/sourcedir.tar.gz")
    return f"s3://{BUCKET}/tiny/sourcedir.tar.gz"


def run_one(sm: LocalSageMaker, name: str, code: str, times: dict[str, float]) -> None:
    start = time.perf_counter()
    sm.create_training_job(**request(name, code))
    desc = sm.wait_for_training_job(name, timeout=600)
    times[name] = time.perf_counter() - start
    if desc["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {desc.get('FailureReason')}")


def run_batch(sm: LocalSageMaker, prefix: str, jobs: int, code: str) -> list[float]:
    """``jobs`` jobs created at once (a thread each); their wall times."""
    times: dict[str, float] = {}
    errors: list[BaseException] = []

    def one(name: str) -> None:
        try:
            run_one(sm, name, code, times)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(f"{prefix}-{i}",)) for i in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return list(times.values())


def script_seconds(src: Path, repeat: int = 5) -> float:
    """The script's own time: this interpreter running it bare, median of ``repeat``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "train.py"], cwd=src, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(jobs: int, rounds: int, ray_address: str | None) -> dict[str, Any]:
    from ray_cluster import start_cluster

    result: dict[str, Any] = {"jobs": jobs, "rounds": rounds, "instance_type": INSTANCE}
    with tempfile.TemporaryDirectory(prefix="smsim-bench-ray-") as tmpdir:
        tmp = Path(tmpdir)
        src = tmp / "src"
        src.mkdir()
        (src / "train.py").write_text(SCRIPT)
        cluster = None
        if ray_address is None:
            cluster = start_cluster()
            ray_address = cluster.address
            result["cluster_startup_s"] = round(cluster.startup_seconds, 1)
        try:
            ray_sm = LocalSageMaker(
                workspace=tmp / "ws-ray",
                log_sink=quiet,
                backend="ray",
                ray_address=ray_address,
                ray_resources=FITS_ALL,
            )
            local_sm = LocalSageMaker(workspace=tmp / "ws-local", log_sink=quiet)
            with ray_sm, local_sm:
                codes = {"ray": stage(ray_sm, src, tmp), "local": stage(local_sm, src, tmp)}
                sessions = {"ray": ray_sm, "local": local_sm}
                for side, sm in sessions.items():  # warm-up, not counted
                    run_batch(sm, f"{side}-warm", 1, codes[side])
                walls: dict[str, list[float]] = {"local": [], "ray": []}
                for r in range(rounds):  # alternating: both see the same machine load
                    for side in ("local", "ray"):
                        walls[side] += run_batch(sessions[side], f"{side}-{r}", jobs, codes[side])
                script = script_seconds(src)
        finally:
            if cluster is not None:
                cluster.stop()
    overhead = {side: statistics.median(w) - script for side, w in walls.items()}
    diff = overhead["ray"] - overhead["local"]
    result.update(
        script_s=round(script, 3),
        local_wall_median_s=round(statistics.median(walls["local"]), 3),
        ray_wall_median_s=round(statistics.median(walls["ray"]), 3),
        local_overhead_s=round(overhead["local"], 3),
        ray_overhead_s=round(overhead["ray"], 3),
        difference_s=round(diff, 3),
        target=f"difference <= {TARGET_S} s",
        ok=diff <= TARGET_S,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--ray-address", help="an existing cluster (default: start one)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = bench(args.jobs, args.rounds, args.ray_address)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.jobs} tiny {INSTANCE} jobs at once x {args.rounds} rounds")
        if "cluster_startup_s" in result:
            print(f"  test cluster start-up : {result['cluster_startup_s']:>7.1f} s")
        print(f"  script alone          : {result['script_s']:>7.3f} s")
        print(
            f"  local: wall / overhead: {result['local_wall_median_s']:>7.3f} s / "
            f"{result['local_overhead_s']:.3f} s"
        )
        print(
            f"  ray:   wall / overhead: {result['ray_wall_median_s']:>7.3f} s / "
            f"{result['ray_overhead_s']:.3f} s"
        )
        print(
            f"  ray - local           : {result['difference_s']:>+7.3f} s (target <= {TARGET_S} s)"
        )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
