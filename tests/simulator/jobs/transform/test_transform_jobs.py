"""CreateTransformJob with a small model: inputs, batching, outputs, failures, description."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import textwrap
from typing import Any

import boto3
import psutil
import pytest

from simulator.errors import UnsupportedFeature, ValidationError
from simulator.shapes import validate_response
from tests.support import wait_until

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"

# Answers each line "<records in this request>,<2 × value>"; a line "boom" fails the request.
HANDLER = """
    def model_fn(model_dir):
        return 2
    def transform_fn(model, body, content_type, accept):
        lines = [l for l in body.splitlines() if l.strip()]
        if any(l.strip() == "boom" for l in lines):
            raise ValueError("cannot score 'boom'")
        return "".join(f"{len(lines)},{float(l) * model}\\n" for l in lines), "text/csv"
"""


def _model_tar(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _create_model(sm, bucket: str, name: str, inference: str) -> None:
    """Model ``name``: ``inference`` as code/inference.py of models/<name>.tar.gz."""
    sm.s3.put_object(
        Bucket=bucket,
        Key=f"models/{name}.tar.gz",
        Body=_model_tar({"code/inference.py": inference}),
    )
    sm.client.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/models/{name}.tar.gz"},
    )


@pytest.fixture
def model(sm, bucket) -> str:
    sm.s3.put_object(
        Bucket=bucket, Key="models/m.tar.gz", Body=_model_tar({"code/inference.py": HANDLER})
    )
    sm.client.create_model(
        ModelName="doubler",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": f"s3://{bucket}/models/m.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
        },
    )
    return "doubler"


def _request(name: str, model: str, uri: str, out: str, **extra: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": out, "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in extra.items():
        if key in ("SplitType", "ContentType", "CompressionType"):
            request["TransformInput"][key] = value
        else:
            request[key] = value
    return request


def _text(sm, bucket: str, key: str) -> str:
    return sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def _model_servers() -> list[psutil.Process]:
    """This process's model server processes still running (keepers included)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE
        and "simulator.inference.serve" in " ".join(p.cmdline())
    ]


def _keys(sm, bucket: str, prefix: str) -> list[str]:
    listing = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in listing.get("Contents", []))


def test_outputs_mirror_the_input_keys_and_batching_follows_the_strategy(sm, bucket, put_s3, model):
    put_s3("in/a.csv", "1\n2\n3\n")
    put_s3("in/sub/b.csv", "10\n20\n")
    sm.create_transform_job(
        **_request(
            "multi",
            model,
            f"s3://{bucket}/in/",
            f"s3://{bucket}/out-multi",
            BatchStrategy="MultiRecord",
            MaxConcurrentTransforms=2,
        )
    )
    sm.create_transform_job(
        **_request(
            "single",
            model,
            f"s3://{bucket}/in/",
            f"s3://{bucket}/out-single",
            BatchStrategy="SingleRecord",
        )
    )
    assert sm.wait_for_transform_job("multi", timeout=120)["TransformJobStatus"] == "Completed"
    assert sm.wait_for_transform_job("single", timeout=120)["TransformJobStatus"] == "Completed"
    # <S3OutputPath>/<key relative to the prefix>.out, one per input object.
    assert _keys(sm, bucket, "out-multi/") == ["out-multi/a.csv.out", "out-multi/sub/b.csv.out"]
    # MultiRecord: the whole object (under 6 MB) in one request; SingleRecord: one each.
    assert _text(sm, bucket, "out-multi/a.csv.out") == "3,2.0\n3,4.0\n3,6.0\n"
    assert _text(sm, bucket, "out-multi/sub/b.csv.out") == "2,20.0\n2,40.0\n"
    assert _text(sm, bucket, "out-single/a.csv.out") == "1,2.0\n1,4.0\n1,6.0\n"


def test_split_none_sends_each_object_whole_and_gzip_is_decompressed(sm, bucket, put_s3, model):
    put_s3("gz/x.csv.gz", gzip.compress(b"4\n5\n"))
    sm.create_transform_job(
        **_request(
            "whole",
            model,
            f"s3://{bucket}/gz",
            f"s3://{bucket}/o",
            SplitType="None",
            CompressionType="Gzip",
        )
    )
    assert sm.wait_for_transform_job("whole", timeout=120)["TransformJobStatus"] == "Completed"
    assert _text(sm, bucket, "o/x.csv.gz.out") == "2,8.0\n2,10.0\n"


def test_manifest_file_lists_the_objects(sm, bucket, put_s3, model):
    put_s3("data/p1.csv", "1\n")
    put_s3("data/p2.csv", "2\n")
    put_s3("data/skip.csv", "3\n")
    manifest = [{"prefix": f"s3://{bucket}/data/"}, "p1.csv", "p2.csv"]
    put_s3("manifests/m.json", json.dumps(manifest))
    request = _request("manifest", model, f"s3://{bucket}/manifests/m.json", f"s3://{bucket}/mo")
    request["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"
    sm.create_transform_job(**request)
    assert sm.wait_for_transform_job("manifest", timeout=120)["TransformJobStatus"] == "Completed"
    assert _keys(sm, bucket, "mo/") == ["mo/p1.csv.out", "mo/p2.csv.out"]


def test_a_failing_record_fails_the_job_naming_it_and_leaves_no_partial_output(
    sm, bucket, put_s3, model
):
    put_s3("bad/a.csv", "1\n2\nboom\n4\n")
    sm.create_transform_job(
        **_request(
            "fails", model, f"s3://{bucket}/bad/", f"s3://{bucket}/bo", BatchStrategy="MultiRecord"
        )
    )
    desc = sm.wait_for_transform_job("fails", timeout=120)
    assert desc["TransformJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    # The batch failed; retried record by record, the third line is the culprit.
    assert "answered 500 to record 3 of s3://" in reason and "bad/a.csv (line)" in reason
    assert "ValueError: cannot score 'boom'" in reason
    assert _keys(sm, bucket, "bo/") == []
    assert _model_servers() == []  # a failed job's server is stopped too
    validate_response("DescribeTransformJob", desc)


def test_description_is_complete_and_boto3_sees_it(sm, bucket, put_s3, model):
    put_s3("in/a.csv", "1\n")
    request = _request(
        "described",
        model,
        f"s3://{bucket}/in/",
        f"s3://{bucket}/out",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=2,
        Environment={"MODE": "x"},
        DataProcessing={"JoinSource": "Input"},
    )
    arn = sm.create_transform_job(**request)["TransformJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:transform-job/described"
    desc = sm.wait_for_transform_job("described", timeout=120)
    validate_response("DescribeTransformJob", desc)
    assert desc["TransformJobStatus"] == "Completed"
    assert desc["TransformInput"]["CompressionType"] == "None"  # the service's defaults
    assert desc["DataProcessing"] == {
        "JoinSource": "Input",
        "InputFilter": "$",
        "OutputFilter": "$",
    }
    assert (desc["MaxPayloadInMB"], desc["BatchStrategy"], desc["ModelName"]) == (
        2,
        "MultiRecord",
        model,
    )
    assert desc["CreationTime"] <= desc["TransformStartTime"] <= desc["TransformEndTime"]
    assert _text(sm, bucket, "out/a.csv.out") == "1,1,2.0\n"  # joined: input, then output
    # Any boto3 client in the process (the SDK's) reaches the same job.
    client = boto3.client("sagemaker", region_name="us-east-1")
    seen = client.describe_transform_job(TransformJobName="described")
    assert seen["TransformJobStatus"] == "Completed" and seen["TransformJobArn"] == arn
    names = [s["TransformJobName"] for s in client.list_transform_jobs()["TransformJobSummaries"]]
    assert names == ["described"]


def test_bad_requests_are_refused_before_anything_runs(sm, bucket, model):
    ok = _request("r1", model, f"s3://{bucket}/in/", f"s3://{bucket}/o")
    with pytest.raises(ValidationError, match="ModelName: Could not find model"):
        sm.create_transform_job(**{**ok, "ModelName": "nope"})
    bad = _request(
        "r2",
        model,
        f"s3://{bucket}/in/",
        f"s3://{bucket}/o",
        SplitType="None",
        DataProcessing={"InputFilter": "$[1:]"},
    )
    with pytest.raises(ValidationError, match="TransformInput.SplitType"):
        sm.create_transform_job(**bad)
    with pytest.raises(ValidationError, match="MaxPayloadInMB"):
        sm.create_transform_job(**{**ok, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 0})
    with pytest.raises(UnsupportedFeature, match="TFRecord"):
        sm.create_transform_job(
            **_request("r3", model, f"s3://{bucket}/in/", f"s3://{bucket}/o", SplitType="TFRecord")
        )
    assert sm.list_transform_jobs()["TransformJobSummaries"] == []


def test_the_model_is_at_opt_ml_model_of_the_servers_own_tree(sm, bucket, put_s3):
    from simulator.hosts.local import local_launcher

    where = """
        import os
        def model_fn(model_dir):
            return model_dir
        def transform_fn(model, body, content_type, accept):
            found = os.path.isfile(os.path.join(model, "code", "inference.py"))
            return f"{model},{found}\\n", "text/csv"
    """
    _create_model(sm, bucket, "where", where)
    put_s3("w/a.csv", "1\n")
    sm.create_transform_job(**_request("where", "where", f"s3://{bucket}/w/", f"s3://{bucket}/wo"))
    assert sm.wait_for_transform_job("where", timeout=120)["TransformJobStatus"] == "Completed"
    model_dir, found = _text(sm, bucket, "wo/a.csv.out").strip().split(",")
    assert found == "True"
    if local_launcher().mode == "namespace":  # the tree mounted at /opt/ml, as for jobs
        assert model_dir == "/opt/ml/model"
    else:  # fallback: SAGEMAKER_BASE_DIR points at the tree
        assert model_dir == str(
            sm.workspace / "transform-jobs" / "where" / "hosts" / "algo-1" / "model"
        )


def test_stop_transform_job_ends_it_stopped_without_output(sm, bucket, put_s3, log_lines):
    slow = """
        import time
        def model_fn(model_dir):
            return None
        def transform_fn(model, body, content_type, accept):
            time.sleep(0.3)
            return body, "text/csv"
    """
    _create_model(sm, bucket, "slow", slow)
    put_s3("many/a.csv", "".join(f"{i}\n" for i in range(200)))
    sm.create_transform_job(
        **_request("stopped", "slow", f"s3://{bucket}/many/", f"s3://{bucket}/so")
    )
    record = sm.endpoint.backend.jobs.get("transform", "stopped")
    assert wait_until(lambda: any("model loaded" in line for line in log_lines.lines), 60)
    sm.stop_transform_job(TransformJobName="stopped")
    desc = sm.wait_for_transform_job("stopped", timeout=120)
    assert desc["TransformJobStatus"] == "Stopped"
    assert record.done.is_set()
    assert _model_servers() == []  # the stop's teardown is over once the run is
    assert _keys(sm, bucket, "so/") == []


def test_a_job_is_completed_before_its_server_is_torn_down_and_close_waits_for_it(
    sm, bucket, put_s3
):
    # A server slow to exit: its own SIGTERM handler (uvicorn restores it and re-raises the
    # signal once shut down) sleeps, so the stop's grace runs out and SIGKILL ends it. The
    # job is Completed (its output in S3) meanwhile, as the service ends a job before
    # tearing its instance down; closing the simulator waits for the teardown.
    lingering = """
        import signal, time
        signal.signal(signal.SIGTERM, lambda signum, frame: time.sleep(60))
        def model_fn(model_dir):
            return None
        def transform_fn(model, body, content_type, accept):
            return body, "text/csv"
    """
    _create_model(sm, bucket, "lingering", lingering)
    put_s3("l/a.csv", "1\n2\n")
    sm.create_transform_job(
        **_request("lingering", "lingering", f"s3://{bucket}/l/", f"s3://{bucket}/lo")
    )

    def ended() -> bool:
        status = sm.describe_transform_job(TransformJobName="lingering")["TransformJobStatus"]
        return status not in ("InProgress", "Stopping")

    assert wait_until(ended, 120)
    desc = sm.describe_transform_job(TransformJobName="lingering")
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    assert _text(sm, bucket, "lo/a.csv.out") == "1\n2\n"
    record = sm.endpoint.backend.jobs.get("transform", "lingering")
    servers = _model_servers()
    assert servers and not record.done.is_set()  # torn down after the job's end
    sm.close()
    assert record.done.is_set()
    assert [p for p in servers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
