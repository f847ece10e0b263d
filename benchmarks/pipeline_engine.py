"""The pipeline engine's scheduling overhead and what step caching saves, in one run.

    .venv/bin/python benchmarks/pipeline_engine.py [--steps 40 --fan-out 8 --parallel 4]
                                                   [--skip-bsm]

1. A synthetic definition of ``--steps`` tiny processing steps in layers of ``--fan-out``
   (each step needs every step of the layer before), run with MaxParallelExecutionSteps
   ``--parallel``. Its wall time (execution created → ended) is compared with the *ideal
   schedule* of the same measured step durations: list scheduling in the engine's order
   with ``--parallel`` slots and zero gaps. Target: ≤ 1.15×. The executor overhead per
   step is (wall − ideal) / steps.
2. The BSM demo pipeline (``smsim demo``'s, 1 epoch) with CacheConfig on every job step
   and its checkpoint path pinned (a cache key): a first run, then a fully cached second
   run; the ratio of their wall times.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator.session import LocalSageMaker  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny-processing:latest"
SCRIPT = "import time; time.sleep(0.2)\n"


def synthetic_definition(steps: int, fan_out: int) -> dict[str, Any]:
    out = []
    for i in range(steps):
        layer = i // fan_out
        before = [f"S{j}" for j in range((layer - 1) * fan_out, layer * fan_out)] if layer else []
        out.append(
            {
                "Name": f"S{i}",
                "Type": "Processing",
                "DependsOn": before,
                "Arguments": {
                    "AppSpecification": {
                        "ImageUri": IMAGE,
                        "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/s.py"],
                    },
                    "RoleArn": ROLE,
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceCount": 1,
                            "InstanceType": "ml.m5.large",
                            "VolumeSizeInGB": 1,
                        }
                    },
                    "ProcessingInputs": [
                        {
                            "InputName": "code",
                            "S3Input": {
                                "S3Uri": "s3://bench/code/s.py",
                                "LocalPath": "/opt/ml/processing/code",
                                "S3DataType": "S3Prefix",
                                "S3InputMode": "File",
                            },
                        }
                    ],
                },
            }
        )
    return {"Version": "2020-12-01", "Parameters": [], "Steps": out}


def ideal_schedule(
    order: list[str], deps: dict[str, set[str]], took: dict[str, float], slots: int
) -> float:
    """Makespan of list scheduling in ``order`` with ``slots`` workers and no gaps."""
    end: dict[str, float] = {}
    free = [0.0] * slots
    heapq.heapify(free)
    pending = list(order)
    clock = 0.0
    while pending:
        # The first step (in order) whose dependencies have ended by the time a slot frees.
        slot_free = heapq.heappop(free)
        clock = max(clock, slot_free)
        ready = [n for n in pending if all(d in end for d in deps[n])]
        name = min(ready, key=lambda n: max([end[d] for d in deps[n]] + [clock]))
        start = max([end[d] for d in deps[name]] + [clock])
        end[name] = start + took[name]
        pending.remove(name)
        heapq.heappush(free, end[name])
    return max(end.values())


def run_synthetic(steps: int, fan_out: int, parallel: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as ws,
        LocalSageMaker(workspace=ws, log_sink=lambda line: None) as sm,
    ):
        sm.s3.create_bucket(Bucket="bench")
        sm.s3.put_object(Bucket="bench", Key="code/s.py", Body=SCRIPT.encode())
        doc = synthetic_definition(steps, fan_out)
        sm.create_pipeline(
            PipelineName="synthetic", PipelineDefinition=json.dumps(doc), RoleArn=ROLE
        )
        arn = sm.start_pipeline_execution(
            PipelineName="synthetic",
            ParallelismConfiguration={"MaxParallelExecutionSteps": parallel},
        )["PipelineExecutionArn"]
        desc = sm.wait_for_pipeline_execution(arn, timeout=3600)
        assert desc["PipelineExecutionStatus"] == "Succeeded", desc
        record = sm.pipelines.execution_record(arn)
        listed = record.steps.values()
        wall = max(s.end_time for s in listed) - record.creation_time
        took = {s.name: (s.end_time - s.start_time).total_seconds() for s in listed}
        definition = record.definition
        order = definition.topological_order()
        deps = {n: definition.dependencies(n) for n in order}
    ideal = ideal_schedule(order, deps, took, parallel)
    seconds = wall.total_seconds()
    return {
        "wall_s": seconds,
        "ideal_s": ideal,
        "ratio": seconds / ideal,
        "overhead_per_step_ms": (seconds - ideal) / steps * 1000,
        "mean_step_s": sum(took.values()) / len(took),
    }


def run_bsm_cached(rows: int = 400, epochs: int = 1) -> dict[str, float]:
    """The demo's setup (simulator.demo.run_demo), with CacheConfig on every job step."""
    from simulator.datasets import write_dataset
    from simulator.pipeline.build.assembly import assemble
    from simulator.pipeline.build.config import make_config
    from simulator.pipeline.build.dags import BSM
    from simulator.pipeline.build.step_code import upload_code

    config = make_config(
        {
            "hyperparameters": {"max_epochs": epochs, "model_class": "multimodal_cnn", "lr": 0.01},
            "auroc_threshold": 0.0,
        },
        what="benchmark",
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalSageMaker(workspace=tmp, log_sink=lambda line: None) as sm,
    ):
        data = write_dataset(Path(tmp) / "data", rows, seed=0, split=False)
        sm.s3.create_bucket(Bucket=config.bucket)
        raw = Path(data["files"]["raw"])
        key = config.raw_data_uri.removeprefix(f"s3://{config.bucket}/") + raw.name
        sm.s3.upload_file(str(raw), config.bucket, key)
        assembled = assemble(BSM, config)
        upload_code(sm.s3, assembled.code, None)
        doc = json.loads(assembled.to_json())

        def cache(steps: list[dict[str, Any]]) -> None:
            for step in steps:
                if step["Type"] in ("Processing", "Training"):
                    step["CacheConfig"] = {"Enabled": True, "ExpireAfter": "P30D"}
                checkpoints = step.get("Arguments", {}).get("CheckpointConfig")
                if checkpoints:
                    # CheckpointConfig is a cache key: the demo's path holds the execution
                    # id, which (on the service too) makes every run a miss. Pin it.
                    checkpoints["S3Uri"] = f"s3://{config.bucket}/bsm/checkpoints/{step['Name']}"
                for branch in ("IfSteps", "ElseSteps"):
                    cache(step.get("Arguments", {}).get(branch, []))

        cache(doc["Steps"])
        sm.create_pipeline(
            PipelineName="bsm-cached", PipelineDefinition=json.dumps(doc), RoleArn=ROLE
        )
        params = [
            {"Name": "MaxEpochs", "Value": str(epochs)},
            {"Name": BSM.gate.threshold_parameter, "Value": "0.0"},
        ]
        times, hits = [], 0
        for _ in range(2):
            t0 = time.perf_counter()
            arn = sm.start_pipeline_execution(PipelineName="bsm-cached", PipelineParameters=params)[
                "PipelineExecutionArn"
            ]
            desc = sm.wait_for_pipeline_execution(arn, timeout=3600)
            times.append(time.perf_counter() - t0)
            assert desc["PipelineExecutionStatus"] == "Succeeded", desc
            steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
            hits = sum("CacheHitResult" in s for s in steps["PipelineExecutionSteps"])
    return {
        "first_s": times[0],
        "cached_s": times[1],
        "ratio": times[1] / times[0],
        "cache_hits": hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--fan-out", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--skip-bsm", action="store_true")
    args = parser.parse_args()
    synthetic = run_synthetic(args.steps, args.fan_out, args.parallel)
    print(
        f"synthetic {args.steps} steps, fan-out {args.fan_out}, MaxParallelExecutionSteps "
        f"{args.parallel}: wall {synthetic['wall_s']:.1f}s vs ideal {synthetic['ideal_s']:.1f}s"
        f" = {synthetic['ratio']:.3f}x (target <= 1.15); overhead "
        f"{synthetic['overhead_per_step_ms']:.0f} ms/step; "
        f"mean step {synthetic['mean_step_s']:.2f}s"
    )
    if not args.skip_bsm:
        bsm = run_bsm_cached()
        print(
            f"BSM demo pipeline: first run {bsm['first_s']:.1f}s, fully cached second run "
            f"{bsm['cached_s']:.1f}s ({bsm['cache_hits']} cache hits) = {bsm['ratio']:.3f}x"
        )


if __name__ == "__main__":
    main()
