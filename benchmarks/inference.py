"""Inference through smsim against the same handler functions called in-process.

    .venv/bin/python benchmarks/inference.py [--rows 20000] [--payload-mb 6] [--repeats 3]
                                             [--calls 200]

Two figures, side by side in one run (targets from issue 15):

1. batch transform — records/s of a transform job on ``--rows`` BSM rows (CSV, SplitType
   Line, MultiRecord, MaxPayloadInMB 6): CreateTransformJob → Completed as a client sees
   it, polling DescribeTransformJob every ``POLL_SECONDS`` (0.1 s: the completion is seen
   at most that late; the SDK's 5 s poll would measure the poll, not the job), the model
   server's start, S3 and the ``.out`` upload included; its stop is not (the job is
   Completed once its output is in S3, its instance torn down after, as on the service).
   The baseline is the fair in-process equivalent, timed in the same run: the handler
   functions of ``dockers/pytorch_bsm/inference.py`` called in this process on the same
   rows in the same 6 MB batches — ``model_fn`` once (the job loads the model once too),
   then ``input_fn → predict_fn → output_fn`` per batch; the module is imported
   beforehand (the benchmark process has pandas, numpy and onnxruntime loaded already:
   the server pays those imports, the baseline does not). ``--repeats`` jobs run one
   after another, the baseline before the first and after each; the ratio is of the
   medians (the 2 cores are shared; the load drifts over a minute). The first job of a
   session also builds the endpoint's own SageMaker client (CreateTransformJob's
   DescribeModel): its time is in the list. Every job's output must equal the
   in-process output byte for byte. Target: ≥ 0.7×. The breakdown (of the median job)
   comes from the job's log lines, timestamped as they arrive.
2. InvokeEndpoint — p50/p99 latency of ``sagemaker-runtime`` InvokeEndpoint (boto3,
   through the smsim endpoint and the model server) with one CSV row, against the
   in-process handler call on that row.

The model is a small BSM model trained once here with train.py (1 epoch). The load
average (``/proc/loadavg``) before and after is printed with the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BSM = REPO / "dockers" / "pytorch_bsm"
sys.path.insert(0, str(REPO))

from simulator import LocalSageMaker  # noqa: E402
from simulator.datasets import write_dataset  # noqa: E402

BUCKET = "smsim-bench"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
POLL_SECONDS = 0.1  # DescribeTransformJob polling of the measured client


def train_model(root: Path) -> Path:
    """A small BSM model (model.onnx + preprocessor.json) trained by train.py."""
    base = root / "train"
    write_dataset(base / "input" / "data", rows=600, seed=3)
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    hps = {"max_epochs": 1, "lr": 0.01}
    (config / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) for k, v in hps.items()})
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env.update(SAGEMAKER_BASE_DIR=str(base), **ONE_THREAD)
    subprocess.run([sys.executable, "train.py"], cwd=BSM, env=env, check=True, capture_output=True)
    return base / "model"


def model_tar(model_dir: Path) -> bytes:
    """model.tar.gz as the SDK repacks it: the model's files and code/ (inference.py, bsm/)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
        tar.add(BSM / "inference.py", arcname="code/inference.py")
        tar.add(
            BSM / "bsm", arcname="code/bsm", filter=lambda t: None if "__pycache__" in t.name else t
        )
    return buf.getvalue()


def rows_csv(root: Path, rows: int) -> bytes:
    """``rows`` BSM rows without header and label: what a transform job would score."""
    import pandas as pd

    data = write_dataset(root / "score", rows=rows, seed=11, split=False)
    frame = pd.concat([pd.read_csv(p) for p in sorted(Path(data["dir"]).rglob("*.csv"))])
    return frame.drop(columns=["label"]).to_csv(index=False, header=False).encode()


def batches(body: bytes, payload_mb: int) -> list[bytes]:
    """The MultiRecord mini-batches of the transform job: whole lines up to the limit."""
    from simulator.inference.batching import batches as plan
    from simulator.inference.batching import split_records

    return [b.body for b in plan(split_records(body, "Line"), "MultiRecord", payload_mb)]


def load_handlers() -> Any:
    """dockers/pytorch_bsm/inference.py imported as the server imports it (bsm/ on the path)."""
    sys.path.insert(0, str(BSM))
    spec = importlib.util.spec_from_file_location("bsm_inference", BSM / "inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_process(module: Any, model: Any, body: bytes) -> bytes:
    data = module.input_fn(body.decode(), "text/csv")
    out, _ = module.output_fn(module.predict_fn(data, model), "text/csv")
    return out.encode()


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_polling(sm: LocalSageMaker, name: str) -> dict[str, Any]:
    """DescribeTransformJob every POLL_SECONDS until the job ends, as a client waits."""
    while True:
        desc = sm.describe_transform_job(TransformJobName=name)
        if desc["TransformJobStatus"] not in ("InProgress", "Stopping"):
            return dict(desc)
        time.sleep(POLL_SECONDS)


def breakdown(lines: list[tuple[float, str]], created: float, seen: float) -> dict[str, float]:
    """The job's phases from its log lines (seconds since CreateTransformJob was sent)."""

    def at(marker: str) -> float:
        return next(t for t, line in lines if marker in line)

    release = at("[smsim] starting the model server")
    loaded = at("model server: model loaded")
    uploaded = at(" request(s) → s3://")
    return {
        "create_call": round(created, 3),
        "create_to_model_in_place": round(release, 3),
        "server_loads_model": round(loaded - release, 3),
        "requests_and_upload": round(uploaded - loaded, 3),
        # The server is stopped after the job's end is recorded: not in this phase.
        "upload_to_completed_seen": round(seen - uploaded, 3),
    }


def transform_job(
    sm: LocalSageMaker, name: str, payload_mb: int, lines: list[tuple[float, str]]
) -> tuple[float, dict[str, float], bytes]:
    """One transform job over every row, create → Completed seen by polling: its
    seconds, its breakdown and its output object."""
    start = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName="bsm",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=payload_mb,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/score/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{BUCKET}/{name}",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    created = time.perf_counter() - start
    desc = wait_polling(sm, name)
    seconds = time.perf_counter() - start
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    own = [(t - start, line) for t, line in lines if t >= start and f"[{name}/" in line]
    got = sm.s3.get_object(Bucket=BUCKET, Key=f"{name}/rows.csv.out")["Body"].read()
    return seconds, breakdown(own, created, seconds), got


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--payload-mb", type=int, default=6)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="transform jobs, one after another")
    args = parser.parse_args()
    os.environ.update(ONE_THREAD)
    with tempfile.TemporaryDirectory(prefix="smsim-bench-inference-") as tmp:
        root = Path(tmp)
        model_dir = train_model(root)
        body = rows_csv(root, args.rows)
        plan = batches(body, args.payload_mb)
        module = load_handlers()

        def in_process_run() -> tuple[bytes, float]:
            start = time.perf_counter()
            model = module.model_fn(str(model_dir))
            out = b"".join(in_process(module, model, b) for b in plan)
            return out, time.perf_counter() - start

        # The baseline before the first job and after each, the jobs and the baselines
        # alternating; medians count: the 2 cores are shared, and the load drifts.
        load_before = loadavg()
        expected, first = in_process_run()
        baselines = [first]  # one before the first job and one after each
        lines: list[tuple[float, str]] = []  # (time.perf_counter(), the job log's line)

        def sink(line: str) -> None:
            lines.append((time.perf_counter(), line))

        with LocalSageMaker(workspace=root / "ws", log_sink=sink) as sm:
            sm.s3.create_bucket(Bucket=BUCKET)
            sm.s3.put_object(Bucket=BUCKET, Key="model/model.tar.gz", Body=model_tar(model_dir))
            sm.s3.put_object(Bucket=BUCKET, Key="score/rows.csv", Body=body)
            sm.create_model(
                ModelName="bsm",
                ExecutionRoleArn=ROLE,
                PrimaryContainer={
                    "Image": IMAGE,
                    "ModelDataUrl": f"s3://{BUCKET}/model/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py", **ONE_THREAD},
                },
            )
            jobs: list[float] = []
            phases: list[dict[str, float]] = []
            for k in range(args.repeats):
                seconds, phase, got = transform_job(sm, f"bench-{k}", args.payload_mb, lines)
                assert got == expected, "the transform's output differs from the in-process one"
                jobs.append(seconds)
                phases.append(phase)
                baselines.append(in_process_run()[1])
            load_after = loadavg()

            sm.create_endpoint_config(
                EndpointConfigName="bsm-config",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "bsm",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            )
            sm.create_endpoint(EndpointName="bsm", EndpointConfigName="bsm-config")
            sm.wait_for_endpoint("bsm")
            import boto3

            runtime = boto3.client("sagemaker-runtime", region_name=sm.region)
            row = body.splitlines(keepends=True)[0]
            remote, local = [], []
            model = module.model_fn(str(model_dir))
            for _ in range(args.calls):
                t = time.perf_counter()
                runtime.invoke_endpoint(
                    EndpointName="bsm", Body=row, ContentType="text/csv", Accept="text/csv"
                )["Body"].read()
                remote.append(time.perf_counter() - t)
                t = time.perf_counter()
                in_process(module, model, row)
                local.append(time.perf_counter() - t)
            sm.delete_endpoint(EndpointName="bsm")

    rows = len(body.splitlines())
    transform, baseline = statistics.median(jobs), statistics.median(baselines)
    median_job = phases[jobs.index(sorted(jobs)[len(jobs) // 2])]
    result = {
        "transform": {
            "rows": rows,
            "requests": len(plan),
            "smsim_records_per_s": round(rows / transform, 1),
            "in_process_records_per_s": round(rows / baseline, 1),
            "ratio": round(baseline / transform, 3),
            "smsim_seconds_each": [round(j, 2) for j in jobs],
            "in_process_seconds_each": [round(b, 2) for b in baselines],
            "smsim_breakdown_of_median_job": median_job,
            "load_average_before_after": [load_before, load_after],
        },
        "invoke_endpoint_ms": {
            "p50": round(1000 * statistics.median(remote), 2),
            "p99": round(1000 * percentile(remote, 0.99), 2),
            "in_process_p50": round(1000 * statistics.median(local), 2),
            "in_process_p99": round(1000 * percentile(local, 0.99), 2),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
