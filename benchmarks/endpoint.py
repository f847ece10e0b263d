"""smsim's endpoint against moto's own SageMaker, side by side in one run.

    .venv/bin/python benchmarks/endpoint.py [--jobs 1000] [--describes 500] [--walks 20]

Two figures (targets from issue 10):

1. DescribeTrainingJob, p50 and p99 over ``--describes`` calls: through smsim's
   endpoint (router → handler → the job's record) vs moto's own server describing a
   job moto holds. Target: p50 ratio ≤ 1.5.
2. ListTrainingJobs in pages of 100 over ``--jobs`` recorded jobs, one page's time
   (p50 over ``--walks`` full walks): smsim vs moto over the same number of jobs.
   Target: ≤ 2×.

Both servers run in this process on 127.0.0.1 and are called with the same boto3
client configuration, so the difference is what smsim's router, handlers, listing
(filters, sort, summaries validated against botocore) and records add.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator.aws import CLIENT_CONFIG, DUMMY_CREDENTIALS  # noqa: E402
from simulator.endpoint import Endpoint  # noqa: E402

BUCKET = "bench"
SCRIPT = "print('loss=0.5')\n"


def _client(url: str) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    ).client("sagemaker", endpoint_url=url, config=CLIENT_CONFIG)


def _record_jobs(workspace: Path, count: int) -> None:
    """One real job run through smsim, then recorded ``count - 1`` times more."""
    import io
    import tarfile

    with Endpoint(workspace, log_sink=lambda _: None) as endpoint:
        s3 = endpoint.backend.s3
        s3.create_bucket(Bucket=BUCKET)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo("train.py")
            info.size = len(SCRIPT)
            tar.addfile(info, io.BytesIO(SCRIPT.encode()))
        s3.put_object(Bucket=BUCKET, Key="code.tar.gz", Body=buf.getvalue())
        sm = _client(endpoint.url)
        sm.create_training_job(**_request("job-0000", f"s3://{BUCKET}/code.tar.gz"))
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName="job-0000", WaiterConfig={"Delay": 0.5}
        )
    src = workspace / "jobs" / "job-0000"
    desc = json.loads((src / "describe.json").read_text())
    created = dt.datetime.fromisoformat(desc["CreationTime"])
    for i in range(1, count):
        name = f"job-{i:04d}"
        target = workspace / "jobs" / name
        target.mkdir()
        shutil.copy(src / "request.json", target / "request.json")
        copy = {
            **desc,
            "TrainingJobName": name,
            "TrainingJobArn": desc["TrainingJobArn"].rsplit("/", 1)[0] + "/" + name,
            "CreationTime": (created + dt.timedelta(seconds=i)).isoformat(),
        }
        (target / "describe.json").write_text(json.dumps(copy))


def _request(name: str, code: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
            "pytorch-training:2.1-cpu-py310",
            "TrainingInputMode": "File",
        },
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "HyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"{code}"',
        },
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _moto_jobs(count: int) -> None:
    """``count`` jobs held by moto's own SageMaker backend."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    for i in range(count):
        backend.create_training_job(
            training_job_name=f"moto-{i:04d}",
            hyper_parameters={},
            algorithm_specification={"TrainingImage": "img", "TrainingInputMode": "File"},
            role_arn="arn:aws:iam::123456789012:role/SageMakerRole",
            input_data_config=[],
            output_data_config={"S3OutputPath": f"s3://{BUCKET}/out"},
            resource_config={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
            vpc_config=None,
            stopping_condition={"MaxRuntimeInSeconds": 600},
            tags=[],
            enable_network_isolation=False,
            enable_inter_container_traffic_encryption=False,
            enable_managed_spot_training=False,
            checkpoint_config=None,
            debug_hook_config=None,
            debug_rule_configurations=None,
            tensor_board_output_config=None,
            experiment_config=None,
        )


def _timed(call: Any, n: int) -> list[float]:
    call()  # warm-up: connections, botocore's loaders
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def _walk(client: Any) -> list[float]:
    """Seconds per page of one walk over every job, pages of 100."""
    times, token = [], None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 100, **({"NextToken": token} if token else {})}
        t = time.perf_counter()
        page = client.list_training_jobs(**kwargs)
        times.append(time.perf_counter() - t)
        token = page.get("NextToken")
        if not token:
            return times


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--describes", type=int, default=500)
    parser.add_argument("--walks", type=int, default=20)
    args = parser.parse_args()
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "ws"
        _record_jobs(workspace, args.jobs)
        with Endpoint(workspace, log_sink=lambda _: None) as endpoint:
            # moto's own server beside it (moto's backends are process-wide).
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            try:
                host, port = moto.get_host_and_port()
                _moto_jobs(args.jobs)
                ours, theirs = _client(endpoint.url), _client(f"http://{host}:{port}")
                assert len(_walk(ours)) == len(_walk(theirs)) == -(-args.jobs // 100)
                d_ours = _timed(
                    lambda: ours.describe_training_job(TrainingJobName="job-0500"), args.describes
                )
                d_moto = _timed(
                    lambda: theirs.describe_training_job(TrainingJobName="moto-0500"),
                    args.describes,
                )
                l_ours = [t for _ in range(args.walks) for t in _walk(ours)]
                l_moto = [t for _ in range(args.walks) for t in _walk(theirs)]
            finally:
                moto.stop()
    _report(f"DescribeTrainingJob ({args.describes} calls)", d_ours, d_moto, 1.5)
    _report(f"ListTrainingJobs, a page of 100 over {args.jobs} jobs", l_ours, l_moto, 2.0)


def _report(title: str, ours: list[float], moto: list[float], target: float) -> None:
    ratio = statistics.median(ours) / statistics.median(moto)
    print(f"{title:44s}  p50 ms   p99 ms")
    for label, values in (("smsim endpoint", ours), ("moto's own", moto)):
        print(f"  {label:42s} {_p(values, 0.5):7.2f}  {_p(values, 0.99):7.2f}")
    print(f"  {'ratio of p50 (target <= ' + str(target) + ')':42s} {ratio:7.2f}")


if __name__ == "__main__":
    main()
