"""`smsim serve` from another process: plain boto3 and the AWS CLI, no smsim import.

What a user does with a server running in a terminal: create jobs, wait with boto3's
own waiters, page through listings with its paginators, catch the service's errors,
read metrics and logs from CloudWatch, restart the server and find everything again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

BUCKET = "serve-bucket"
TRAIN = """
import os
for epoch in range(3):
    print(f"epoch={epoch} loss={1 / (epoch + 1)}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as f:
    f.write("trained")
"""
SLOW = "import time\nprint('working', flush=True)\ntime.sleep(120)\n"
PROCESS = """
import os, pathlib
rows = pathlib.Path("/opt/ml/processing/input/data/rows.csv").read_text().splitlines()
out = pathlib.Path("/opt/ml/processing/output")
out.mkdir(parents=True, exist_ok=True)
(out / "count.txt").write_text(str(len(rows)))
"""


def clients() -> tuple[object, object]:
    return boto3.client("sagemaker"), boto3.client("s3")


def upload_code(s3, kit, script: str, key: str) -> str:
    s3.put_object(Bucket=BUCKET, Key=key, Body=kit.sourcedir_tar({"train.py": script}))
    return f"s3://{BUCKET}/{key}"


def test_a_training_job_runs_and_reports_like_the_service(serve, client_env, kit):
    server = serve()
    client_env(server)
    sm, s3 = clients()
    s3.create_bucket(Bucket=BUCKET)
    code = upload_code(s3, kit, TRAIN, "code/train.tar.gz")
    arn = sm.create_training_job(**kit.training_request("Serve-Train", code, BUCKET))[
        "TrainingJobArn"
    ]
    assert arn.endswith(":training-job/serve-train")  # lower-cased, as the service's
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="Serve-Train", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    # Names are case-insensitive: the SDK describes a step's job by its ARN's last part.
    desc = sm.describe_training_job(TrainingJobName=arn.split("/")[-1])
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TrainingJobName"] == "Serve-Train"
    assert [(m["MetricName"], round(m["Value"], 4)) for m in desc["FinalMetricDataList"]] == [
        ("loss", 0.3333)
    ]
    bucket, key = desc["ModelArtifacts"]["S3ModelArtifacts"][len("s3://") :].split("/", 1)
    assert kit.read_tar(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == {
        "model.txt": b"trained"
    }
    summaries = sm.list_training_jobs()["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["SecondaryStatus"]) for s in summaries] == [
        ("Serve-Train", "Completed")
    ]

    # Every MetricDefinitions match is a CloudWatch datum with the service's dimensions.
    cloudwatch = boto3.client("cloudwatch")
    stats = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="loss",
        Dimensions=[
            {"Name": "TrainingJobName", "Value": "Serve-Train"},
            {"Name": "Host", "Value": "algo-1"},
        ],
        StartTime=desc["TrainingStartTime"].replace(second=0, microsecond=0),
        EndTime=desc["TrainingEndTime"].replace(microsecond=0).timestamp() + 120,
        Period=1,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]
    assert sum(p["SampleCount"] for p in stats) == 3
    assert min(p["Minimum"] for p in stats) == pytest.approx(1 / 3)
    assert max(p["Maximum"] for p in stats) == 1.0
    # And its lines are in CloudWatch Logs, where `estimator.logs()` reads them.
    events = boto3.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="Serve-Train/"
    )["events"]
    assert any("epoch=2 loss=0.333" in e["message"] for e in events)

    # The AWS CLI, pointed at the server, lists and describes the same job.
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json"]
    listed = subprocess.run(
        [*aws, "sagemaker", "list-training-jobs"], capture_output=True, text=True, check=True
    )
    assert [s["TrainingJobName"] for s in json.loads(listed.stdout)["TrainingJobSummaries"]] == [
        "Serve-Train"
    ]
    described = subprocess.run(
        [*aws, "sagemaker", "describe-training-job", "--training-job-name", "serve-train"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(described.stdout)["TrainingJobStatus"] == "Completed"
    missing = subprocess.run(
        [*aws, "sagemaker", "describe-training-job", "--training-job-name", "nope"],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0
    assert "(ValidationException)" in missing.stderr
    assert "Requested resource not found." in missing.stderr
    assert server.stop() == 130  # Ctrl-C: 128 + SIGINT, as shells expect (#17)


def test_a_processing_job_runs(serve, client_env, kit):
    client_env(serve())
    sm, s3 = clients()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/rows.csv", Body=b"a\nb\nc\n")
    s3.put_object(Bucket=BUCKET, Key="code/process.py", Body=PROCESS.encode())
    local = "/opt/ml/processing/input"
    sm.create_processing_job(
        ProcessingJobName="serve-process",
        ProcessingResources={
            "ClusterConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            }
        },
        AppSpecification={
            "ImageUri": kit.processing_image,
            "ContainerEntrypoint": ["python3", f"{local}/code/process.py"],
        },
        RoleArn=kit.role,
        ProcessingInputs=[
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/{prefix}",
                    "LocalPath": f"{local}/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
            for name, prefix in (("data", "data/"), ("code", "code/process.py"))
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "counted",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/counted",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    )
    sm.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName="serve-process", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    desc = sm.describe_processing_job(ProcessingJobName="SERVE-PROCESS")
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    body = s3.get_object(Bucket=BUCKET, Key="counted/count.txt")["Body"].read()
    assert body == b"3"
    listed = sm.list_processing_jobs(StatusEquals="Completed")["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in listed] == ["serve-process"]


def test_errors_are_the_services(serve, client_env, kit):
    client_env(serve())
    sm, s3 = clients()
    s3.create_bucket(Bucket=BUCKET)
    code = upload_code(s3, kit, TRAIN, "code/train.tar.gz")
    sm.create_training_job(**kit.training_request("taken", code, BUCKET))
    # A name is taken case-insensitively; boto3's modeled exception catches it.
    with pytest.raises(sm.exceptions.ResourceInUse) as taken:
        sm.create_training_job(**kit.training_request("TAKEN", code, BUCKET))
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    assert "choose another name" in taken.value.response["Error"]["Message"]
    # A name off the service's pattern: ValidationException naming the field.
    with pytest.raises(ClientError) as bad:
        sm.create_training_job(**kit.training_request("bad_name!", code, BUCKET))
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    assert "TrainingJobName" in bad.value.response["Error"]["Message"]
    for call in (
        lambda: sm.describe_training_job(TrainingJobName="never-created"),
        lambda: sm.stop_processing_job(ProcessingJobName="never-created"),
    ):
        with pytest.raises(ClientError) as unknown:
            call()
        error = unknown.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert error["Message"].startswith("Requested resource not found.")
    # Pipeline operations answer ResourceNotFound, as the service's do.
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_pipeline(PipelineName="no-such-pipeline")
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="taken", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def _clone(workspace: Path, source: str, count: int) -> list[str]:
    """``count`` copies of a recorded job under new names, as a busy workspace holds."""
    import datetime as dt

    src = workspace / "jobs" / source
    desc = json.loads((src / "describe.json").read_text())
    created = dt.datetime.fromisoformat(desc["CreationTime"])
    names = []
    for i in range(count):
        name = f"bulk-{i:03d}"
        target = workspace / "jobs" / name
        target.mkdir(parents=True)
        shutil.copy(src / "request.json", target / "request.json")
        copy = {
            **desc,
            "TrainingJobName": name,
            "TrainingJobArn": desc["TrainingJobArn"].rsplit("/", 1)[0] + "/" + name,
            "CreationTime": (created - dt.timedelta(seconds=i + 1)).isoformat(),
        }
        (target / "describe.json").write_text(json.dumps(copy))
        names.append(name)
    return names


def test_a_restart_keeps_every_job_and_ctrl_c_stops_running_ones(serve, client_env, kit, tmp_path):
    workspace = tmp_path / "kept"
    first = serve(workspace)
    client_env(first)
    sm, s3 = clients()
    s3.create_bucket(Bucket=BUCKET)
    sm.create_training_job(
        **kit.training_request("done", upload_code(s3, kit, TRAIN, "c/t.tar.gz"), BUCKET)
    )
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="done", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    sm.create_training_job(
        **kit.training_request("running", upload_code(s3, kit, SLOW, "c/s.tar.gz"), BUCKET)
    )
    assert first.stop() == 130  # Ctrl-C while "running" runs: it is stopped, recorded
    bulk = _clone(workspace, "done", 249)

    second = serve(workspace)
    assert "251 jobs" in " ".join(second.banner)
    client_env(second)
    sm, _ = clients()
    stopped = sm.describe_training_job(TrainingJobName="running")
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert sm.describe_training_job(TrainingJobName="done")["TrainingJobStatus"] == "Completed"

    # boto3's paginator walks every job, pages of 100, each job once, newest first.
    pages = list(
        sm.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 100})
    )
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [100, 100, 51]
    names = [s["TrainingJobName"] for p in pages for s in p["TrainingJobSummaries"]]
    assert sorted(names) == sorted(["done", "running", *bulk])
    times = [s["CreationTime"] for p in pages for s in p["TrainingJobSummaries"]]
    assert times == sorted(times, reverse=True)
    # Filters and sort keys, as the service has them.
    by_name = sm.list_training_jobs(SortBy="Name", SortOrder="Ascending", MaxResults=5)
    assert [s["TrainingJobName"] for s in by_name["TrainingJobSummaries"]] == bulk[:5]
    assert "NextToken" in by_name
    assert [
        s["TrainingJobName"]
        for s in sm.list_training_jobs(StatusEquals="Stopped")["TrainingJobSummaries"]
    ] == ["running"]
    contains = sm.list_training_jobs(NameContains="BULK-24", MaxResults=100)
    assert sorted(s["TrainingJobName"] for s in contains["TrainingJobSummaries"]) == [
        f"bulk-24{i}" for i in range(9)
    ]
    newest = max(times)
    after = sm.list_training_jobs(CreationTimeAfter=newest.timestamp() - 0.0001, MaxResults=100)
    assert [s["TrainingJobName"] for s in after["TrainingJobSummaries"]] == ["running"]
    with pytest.raises(ClientError) as bad_token:
        sm.list_training_jobs(NextToken=by_name["NextToken"], StatusEquals="Completed")
    assert bad_token.value.response["Error"]["Code"] == "ValidationException"


def test_an_external_s3_endpoint_holds_the_artifacts(serve, client_env, kit, tmp_path):
    """--s3-endpoint: S3 is another S3-compatible server (here a moto server process
    standing in for one); the jobs read and write there, the in-memory S3 stays empty."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    external = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        store = boto3.client(
            "s3",
            endpoint_url=external,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for _ in range(100):  # until the server listens
            try:
                store.list_buckets()
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.1)
        server = serve(tmp_path / "ext", "--s3-endpoint", external)
        assert server.env["AWS_ENDPOINT_URL_S3"] == external
        assert not any("in memory" in line for line in server.banner)
        client_env(server)
        sm, s3 = clients()  # boto3's S3 client follows AWS_ENDPOINT_URL_S3
        s3.create_bucket(Bucket=BUCKET)
        code = upload_code(s3, kit, TRAIN, "code/train.tar.gz")
        sm.create_training_job(**kit.training_request("external-s3", code, BUCKET))
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName="external-s3", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        assert sm.describe_training_job(TrainingJobName="external-s3")["TrainingJobStatus"] == (
            "Completed"
        )
        body = store.get_object(Bucket=BUCKET, Key="output/external-s3/output/model.tar.gz")
        assert kit.read_tar(body["Body"].read()) == {"model.txt": b"trained"}
        in_memory = boto3.client("s3", endpoint_url=server.url)
        assert in_memory.list_buckets()["Buckets"] == []
    finally:
        moto.terminate()
        moto.wait(10)
