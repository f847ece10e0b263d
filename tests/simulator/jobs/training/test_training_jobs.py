"""Training jobs through LocalSageMaker with small scripts written in the tests."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import boto3
import pytest

from simulator.errors import ResourceInUse, ValidationError
from simulator.shapes import enum_values, validate_response
from tests.support import wait_until

# A script written only against the training toolkit's documented conventions: the
# canonical "script mode" example (argparse of hyperparameters, SM_* directories).
TOOLKIT_SCRIPT = r"""
import argparse, json, os

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--learning-rate", type=float, default=0.1)
parser.add_argument("--optimizer", type=str, default="sgd")
parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
args = parser.parse_args()

rows = []
for folder, _, names in sorted(os.walk(args.train)):
    for name in sorted(names):
        with open(os.path.join(folder, name)) as f:
            rows += [line.strip() for line in f if line.strip()]
total = sum(float(r) for r in rows)
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={total / (epoch + 1):.4f}")

base = os.environ["SAGEMAKER_BASE_DIR"]
with open(os.path.join(base, "input/config/hyperparameters.json")) as f:
    raw_hps = json.load(f)
with open(os.path.join(base, "input/config/resourceconfig.json")) as f:
    resource = json.load(f)
report = {
    "args": vars(args),
    "total": total,
    "hps_env": json.loads(os.environ["SM_HPS"]),
    "hp_epochs": os.environ.get("SM_HP_EPOCHS"),
    "hp_lr": os.environ.get("SM_HP_LEARNING-RATE"),
    "channels": json.loads(os.environ["SM_CHANNELS"]),
    "user_args": json.loads(os.environ["SM_USER_ARGS"]),
    "training_env": json.loads(os.environ["SM_TRAINING_ENV"]),
    "current_host": os.environ["SM_CURRENT_HOST"],
    "hosts": json.loads(os.environ["SM_HOSTS"]),
    "module_name": os.environ["SM_MODULE_NAME"],
    "job_name": os.environ["TRAINING_JOB_NAME"],
    "raw_hps": raw_hps,
    "resource": resource,
    "cwd": os.getcwd(),
    "my_flag": os.environ.get("MY_FLAG"),
}
with open(os.path.join(args.model_dir, "model.json"), "w") as f:
    json.dump({"total": total}, f)
with open(os.path.join(args.output_data_dir, "report.json"), "w") as f:
    json.dump(report, f)
"""

FAILING_SCRIPT = r"""
import os, sys
print("about to fail")
with open(os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "output", "failure"), "w") as f:
    f.write("ValueError: the label column 'y' is missing" + "x" * 2000)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "partial.txt"), "w") as f:
    f.write("partial")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.bin"), "w") as f:
    f.write("half a model")
sys.exit(3)
"""

SLEEPING_SCRIPT = r"""
import os, time
print("sleeping", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "early.txt"), "w") as f:
    f.write("saved before the stop")
time.sleep(120)
"""

CHECKPOINT_SCRIPT = r"""
import os
base = os.environ["SAGEMAKER_BASE_DIR"]
ckpt = os.environ.get("SM_CHECKPOINT_DIR", os.path.join(base, "checkpoints"))
found = sorted(os.listdir(ckpt))
start = len(found)
print(f"resumed_from={start}")
for step in range(start, start + 2):
    with open(os.path.join(ckpt, f"step-{step}.txt"), "w") as f:
        f.write(str(step))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "steps.txt"), "w") as f:
    f.write(",".join(sorted(os.listdir(ckpt))))
"""


def keys(sm: Any, bucket: str, prefix: str) -> list[str]:
    resp = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def test_toolkit_convention_script_runs_unmodified(
    sm,
    read_tar,
    run_training,
    bucket,
    put_s3,
    upload_code,
    training_request,
    log_lines,
    container_mode,
):
    put_s3("data/train/part-1.csv", "1\n2\n")
    put_s3("data/train/nested/part-2.csv", "3\n")
    code = upload_code({"train.py": TOOLKIT_SCRIPT})
    request = training_request(
        "toolkit-script",
        code,
        hyperparameters={"epochs": 2, "learning-rate": 0.05, "optimizer": "adam"},
        channels={"train": f"s3://{bucket}/data/train"},
        AlgorithmSpecification={
            "TrainingImage": "img:latest",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:loss", "Regex": r"loss=([0-9\.]+)"}],
        },
    )
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")

    out = read_tar(sm, bucket, "output/toolkit-script/output/output.tar.gz")
    report = json.loads(out["report.json"])
    # argparse saw the hyperparameters as the toolkit passes them: sorted --key value.
    assert report["args"]["epochs"] == 2
    assert report["args"]["learning_rate"] == 0.05
    assert report["args"]["optimizer"] == "adam"
    assert report["user_args"] == [
        "--epochs",
        "2",
        "--learning-rate",
        "0.05",
        "--optimizer",
        "adam",
    ]
    assert report["total"] == 6.0  # both files of the channel, nested path kept
    # SM_HPS: user hyperparameters only, decoded; framework keys left out.
    assert report["hps_env"] == {"epochs": 2, "learning-rate": 0.05, "optimizer": "adam"}
    assert report["hp_epochs"] == "2" and report["hp_lr"] == "0.05"
    assert report["channels"] == ["train"]
    assert report["current_host"] == "algo-1" and report["hosts"] == ["algo-1"]
    assert report["module_name"] == "train"
    assert report["job_name"] == "toolkit-script"
    assert report["training_env"]["hyperparameters"] == report["hps_env"]
    assert report["training_env"]["channel_input_dirs"]["train"] == report["args"]["train"]
    # hyperparameters.json holds the request's strings verbatim.
    assert report["raw_hps"] == request["HyperParameters"]
    assert report["resource"]["current_host"] == "algo-1"
    assert report["resource"]["current_instance_type"] == "ml.m5.xlarge"
    assert report["resource"]["instance_groups"][0]["hosts"] == ["algo-1"]
    if container_mode == "namespace":
        # The container's paths, as on the service: the tree is mounted at /opt/ml.
        assert report["cwd"] == "/opt/ml/code"
        assert report["args"]["model_dir"] == "/opt/ml/model"
        assert report["args"]["train"] == "/opt/ml/input/data/train"
        assert report["training_env"]["module_dir"] == code
    else:
        assert report["cwd"].endswith("hosts/algo-1/code")
        assert report["args"]["model_dir"].endswith("hosts/algo-1/model")
    assert any(f"container mode: {container_mode}" in line for line in log_lines.lines)

    model = read_tar(sm, bucket, "output/toolkit-script/output/model.tar.gz")
    assert json.loads(model["model.json"]) == {"total": 6.0}
    assert desc["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://{bucket}/output/toolkit-script/output/model.tar.gz"
    )
    # The last value of the metric wins.
    assert [(m["MetricName"], m["Value"]) for m in desc["FinalMetricDataList"]] == [
        ("train:loss", 3.0)
    ]
    # Live log lines carry the job/host prefix.
    assert "[toolkit-script/algo-1] epoch=1 loss=3.0000" in log_lines.lines


def test_description_is_complete_and_valid(
    sm, read_tar, run_training, bucket, put_s3, script_request
):
    put_s3("d/train/x.csv", "1\n")
    request = script_request(
        "described",
        TOOLKIT_SCRIPT,
        channels={"train": f"s3://{bucket}/d/train"},
        CheckpointConfig={"S3Uri": f"s3://{bucket}/ckpt/described"},
        Environment={"MY_FLAG": "1"},
    )
    desc = run_training(request)
    validate_response("DescribeTrainingJob", desc)
    assert desc["TrainingJobStatus"] in enum_values("TrainingJobStatus")
    assert desc["SecondaryStatus"] in enum_values("SecondaryStatus")
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    for t in desc["SecondaryStatusTransitions"]:
        assert t["StartTime"] <= t["EndTime"]
        assert t["StatusMessage"], t
    transitions = desc["SecondaryStatusTransitions"]
    for before, after in zip(transitions, transitions[1:], strict=False):
        assert before["EndTime"] == after["StartTime"]  # one state after the other, no gap
    assert (
        desc["TrainingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/described"
    )
    for key in (
        "HyperParameters",
        "InputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "CheckpointConfig",
        "Environment",
        "RoleArn",
    ):
        assert desc[key] == request[key], key
    assert (
        desc["AlgorithmSpecification"]["TrainingImage"]
        == request["AlgorithmSpecification"]["TrainingImage"]
    )
    assert desc["OutputDataConfig"]["S3OutputPath"] == request["OutputDataConfig"]["S3OutputPath"]
    assert desc["CreationTime"] <= desc["TrainingStartTime"] <= desc["TrainingEndTime"]
    elapsed = (desc["TrainingEndTime"] - desc["TrainingStartTime"]).total_seconds()
    assert desc["TrainingTimeInSeconds"] == max(1, round(elapsed))
    assert desc["BillableTimeInSeconds"] == desc["TrainingTimeInSeconds"]
    assert desc["AlgorithmSpecification"]["TrainingInputMode"] in enum_values("TrainingInputMode")
    # The request's Environment reached the script.
    report = json.loads(
        read_tar(sm, bucket, "output/described/output/output.tar.gz")["report.json"]
    )
    assert report["my_flag"] == "1"
    # The workspace keeps the request, the description and the logs.
    job_dir = sm.workspace / "jobs" / "described"
    assert json.loads((job_dir / "request.json").read_text()) == request
    assert json.loads((job_dir / "describe.json").read_text())["TrainingJobStatus"] == "Completed"
    assert "epoch=0" in (job_dir / "logs" / "algo-1.log").read_text()
    assert (job_dir / "hosts" / "algo-1" / "output" / "success").exists()


def test_boto3_client_sees_the_real_state(sm, run_training, bucket, put_s3, script_request):
    put_s3("d/train/x.csv", "4\n")
    request = script_request(
        "mirrored",
        TOOLKIT_SCRIPT,
        channels={"train": f"s3://{bucket}/d/train"},
        AlgorithmSpecification={
            "TrainingImage": "img",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9\.]+)"}],
        },
    )
    run_training(request)
    client = boto3.client("sagemaker")  # made anywhere in the process, inside the context
    desc = client.describe_training_job(TrainingJobName="mirrored")
    assert desc["TrainingJobStatus"] == "Completed"
    assert desc["SecondaryStatus"] == "Completed"
    assert [(m["MetricName"], m["Value"]) for m in desc["FinalMetricDataList"]] == [("loss", 4.0)]
    assert (
        desc["AlgorithmSpecification"]["MetricDefinitions"]
        == request["AlgorithmSpecification"]["MetricDefinitions"]
    )
    names = [j["TrainingJobName"] for j in client.list_training_jobs()["TrainingJobSummaries"]]
    assert names == ["mirrored"]
    assert (
        boto3.client("s3").head_object(Bucket=bucket, Key="output/mirrored/output/model.tar.gz")[
            "ContentLength"
        ]
        > 0
    )
    summaries = sm.list_training_jobs()["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed"]
    # The log lines are in CloudWatch Logs where the service puts them.
    logs = boto3.client("logs")
    (stream,) = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="mirrored/"
    )["logStreams"]
    assert stream["logStreamName"].startswith("mirrored/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"]
    )["events"]
    assert "epoch=0 loss=4.0000" in [e["message"] for e in events]


def test_failing_script_is_failed_with_the_failure_file(
    sm, read_tar, run_training, bucket, upload_code, training_request
):
    code = upload_code({"train.py": FAILING_SCRIPT})
    desc = run_training(training_request("fails", code))
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["SecondaryStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ValueError: the label column 'y' is missing")
    assert len(desc["FailureReason"]) == 1024
    validate_response("DescribeTrainingJob", desc)
    # output.tar.gz is uploaded, model.tar.gz is not; logs stay.
    assert keys(sm, bucket, "output/fails/") == ["output/fails/output/output.tar.gz"]
    assert read_tar(sm, bucket, "output/fails/output/output.tar.gz") == {"partial.txt": b"partial"}
    assert "about to fail" in (sm.workspace / "jobs/fails/logs/algo-1.log").read_text()
    assert sm.describe_training_job(TrainingJobName="fails")["TrainingJobStatus"] == "Failed"


def test_failing_script_without_failure_file_reports_exit_code_and_stderr(
    sm, run_training, upload_code, training_request
):
    code = upload_code({"train.py": "raise RuntimeError('boom: bad batch size')\n"})
    desc = run_training(training_request("crashes", code))
    assert desc["TrainingJobStatus"] == "Failed"
    assert "ExitCode 1" in desc["FailureReason"]
    assert "RuntimeError: boom: bad batch size" in desc["FailureReason"]


def test_max_runtime_stops_the_job(
    sm, read_tar, run_training, bucket, upload_code, training_request, container_mode
):
    code = upload_code({"train.py": SLEEPING_SCRIPT})
    request = training_request("too-slow", code, StoppingCondition={"MaxRuntimeInSeconds": 1})
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]][-2:] == [
        "Stopping",
        "MaxRuntimeExceeded",
    ]
    assert "FailureReason" not in desc
    validate_response("DescribeTrainingJob", desc)
    # What the script saved before the stop is kept.
    model = read_tar(sm, bucket, "output/too-slow/output/model.tar.gz")
    assert model == {"early.txt": b"saved before the stop"}


def test_stop_training_job(sm, upload_code, training_request, log_lines):
    code = upload_code({"train.py": SLEEPING_SCRIPT})
    sm.create_training_job(**training_request("to-stop", code))
    assert wait_until(lambda: "[to-stop/algo-1] sleeping" in log_lines.lines, 60)
    sm.stop_training_job(TrainingJobName="to-stop")
    desc = sm.wait_for_training_job("to-stop", timeout=60)
    assert desc["TrainingJobStatus"] == "Stopped"
    assert desc["SecondaryStatus"] == "Stopped"


def test_two_jobs_sharing_a_checkpoint_uri_resume(
    sm, read_tar, run_training, bucket, upload_code, training_request, container_mode
):
    code = upload_code({"train.py": CHECKPOINT_SCRIPT})
    ckpt = {"S3Uri": f"s3://{bucket}/checkpoints/shared"}
    assert (
        run_training(training_request("ckpt-1", code, CheckpointConfig=ckpt))["TrainingJobStatus"]
        == "Completed"
    )
    assert keys(sm, bucket, "checkpoints/shared/") == [
        "checkpoints/shared/step-0.txt",
        "checkpoints/shared/step-1.txt",
    ]
    assert (
        run_training(training_request("ckpt-2", code, CheckpointConfig=ckpt))["TrainingJobStatus"]
        == "Completed"
    )
    model = read_tar(sm, bucket, "output/ckpt-2/output/model.tar.gz")
    assert model["steps.txt"] == b"step-0.txt,step-1.txt,step-2.txt,step-3.txt"
    assert len(keys(sm, bucket, "checkpoints/shared/")) == 4


def test_duplicate_name_refused(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ok')\n"})
    sm.create_training_job(**training_request("only-once", code))
    with pytest.raises(ResourceInUse, match="only-once"):
        sm.create_training_job(**training_request("only-once", code))
    sm.wait_for_training_job("only-once", timeout=60)


def test_sourcedir_with_parent_member_refused(sm, run_training, bucket, put_s3, training_request):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in ("train.py", "../evil.py"):
            data = b"print('hi')\n"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code = put_s3("code/evil/sourcedir.tar.gz", buf.getvalue())
    desc = run_training(training_request("evil-tar", code), timeout=60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "'../evil.py'" in desc["FailureReason"]
    assert not (sm.workspace / "jobs" / "evil-tar" / "hosts" / "algo-1" / "evil.py").exists()
    assert not (sm.workspace / "jobs" / "evil-tar" / "hosts" / "evil.py").exists()


def test_shell_entry_point_runs_with_sh(
    sm, read_tar, run_training, bucket, upload_code, training_request, container_mode
):
    script = 'echo "shell args: $@"\necho done > "$SM_MODEL_DIR/shell.txt"\n'
    code = upload_code({"run.sh": script})
    request = training_request("shell-job", code, program="run.sh", hyperparameters={"n": 3})
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert read_tar(sm, bucket, "output/shell-job/output/model.tar.gz") == {"shell.txt": b"done\n"}
    assert "shell args: -n 3" in (sm.workspace / "jobs/shell-job/logs/algo-1.log").read_text()


def test_script_reaches_the_embedded_s3(
    sm, read_tar, run_training, bucket, put_s3, upload_code, training_request
):
    put_s3("shared/hello.txt", "hello from s3")
    script = (
        "import boto3, os\n"
        f"body = boto3.client('s3').get_object(Bucket='{bucket}', Key='shared/hello.txt')\n"
        "text = body['Body'].read().decode()\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'got.txt'), 'w').write(text)\n"
    )
    code = upload_code({"train.py": script})
    desc = run_training(training_request("reads-s3", code), timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert read_tar(sm, bucket, "output/reads-s3/output/model.tar.gz") == {
        "got.txt": b"hello from s3"
    }


def test_s3_prefix_semantics_for_channels(
    sm, read_tar, bucket, put_s3, upload_code, training_request
):
    put_s3("p/train/a.csv", "1\n")
    put_s3("p/train/deep/b.csv", "2\n")
    put_s3("p/train2/c.csv", "3\n")  # matched too: S3Prefix is a key prefix, not a folder
    put_s3("p/other/d.csv", "4\n")
    script = (
        "import os\n"
        "root = os.environ['SM_CHANNEL_TRAIN']\n"
        "found = sorted(os.path.relpath(os.path.join(d, f), root)"
        " for d, _, fs in os.walk(root) for f in fs)\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'files.txt'), 'w').write(','.join(found))\n"
    )
    code = upload_code({"train.py": script})
    sm.create_training_job(
        **training_request("prefixes", code, channels={"train": f"s3://{bucket}/p/train"})
    )
    desc = sm.wait_for_training_job("prefixes", timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    files = read_tar(sm, bucket, "output/prefixes/output/model.tar.gz")["files.txt"].decode()
    assert files.split(",") == ["2/c.csv", "a.csv", "deep/b.csv"]


def test_empty_channel_is_refused_like_the_service(sm, bucket, upload_code, training_request):
    # The service lists each S3Prefix channel at CreateTrainingJob and refuses an empty one.
    code = upload_code({"train.py": "print('never')\n"})
    with pytest.raises(ValidationError, match="No S3 objects found under S3 URL"):
        sm.create_training_job(
            **training_request("no-data", code, channels={"train": f"s3://{bucket}/nothing/here"})
        )


def test_bad_requests_are_refused_before_running(sm, upload_code, training_request, bucket):
    code = upload_code({"train.py": "print('x')\n"})
    with pytest.raises(ValidationError, match="TrainingJobName"):
        sm.create_training_job(**training_request("bad_name!", code))
    with pytest.raises(ValidationError, match="S3OutputPath"):
        sm.create_training_job(
            **training_request("bad-out", code, OutputDataConfig={"S3OutputPath": "s3://B/x"})
        )
    # The service's own channel rules: an augmented manifest needs Pipe mode, FastFile S3Prefix.
    augmented = training_request("piped", code, channels={"train": f"s3://{bucket}/m.json"})
    augmented["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = (
        "AugmentedManifestFile"
    )
    with pytest.raises(ValidationError, match=r"InputDataConfig\[0\] \(train\).*S3DataType.*Pipe"):
        sm.create_training_job(**augmented)
    fast = training_request("sharded", code, channels={"train": f"s3://{bucket}/m.json"})
    fast["InputDataConfig"][0]["InputMode"] = "FastFile"
    fast["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = "ManifestFile"
    with pytest.raises(ValidationError, match="FastFile mode must use the S3DataType S3Prefix"):
        sm.create_training_job(**fast)
    # More hosts than the machine is set to hold: refused, naming the limit's setting.
    with pytest.raises(ValidationError, match="SMSIM_MAX_HOSTS"):
        sm.create_training_job(
            **training_request(
                "many-hosts",
                code,
                ResourceConfig={
                    "InstanceType": "ml.m5.large",
                    "InstanceCount": 1000,
                    "VolumeSizeInGB": 1,
                },
            )
        )
    bad_regex = training_request("bad-regex", code)
    bad_regex["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "m", "Regex": "loss=(["}]
    with pytest.raises(ValidationError, match=r"MetricDefinitions\[0\]\.Regex"):
        sm.create_training_job(**bad_regex)
    too_many = training_request("many-metrics", code)
    too_many["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": f"m{i}", "Regex": f"m{i}=([0-9]+)"} for i in range(41)
    ]
    with pytest.raises(ValidationError, match="MetricDefinitions"):
        sm.create_training_job(**too_many)
    # The service's answer to an unknown job: ValidationException, "Requested resource not found."
    with pytest.raises(sm.exceptions.ClientError, match="Requested resource not found") as info:
        sm.describe_training_job(TrainingJobName="piped")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert sm.list_training_jobs()["TrainingJobSummaries"] == []


def test_container_entrypoint_with_opt_ml_paths(
    sm, read_tar, run_training, bucket, put_s3, training_request, container_mode
):
    put_s3("ep/train/x.csv", "5\n")
    script = (
        "import sys, os\n"
        "data_dir, model_dir = sys.argv[1], sys.argv[2]\n"
        "text = open(os.path.join(data_dir, 'x.csv')).read()\n"
        "open(os.path.join(model_dir, 'copy.csv'), 'w').write(text)\n"
    )
    put_s3("ep/code/run.py", script)
    request = training_request(
        "entrypoint",
        "unused",
        channels={"train": f"s3://{bucket}/ep/train", "code": f"s3://{bucket}/ep/code"},
    )
    request["HyperParameters"] = {}
    request["AlgorithmSpecification"] = {
        "TrainingImage": "img",
        "TrainingInputMode": "File",
        "ContainerEntrypoint": ["python3", "/opt/ml/input/data/code/run.py"],
        "ContainerArguments": ["/opt/ml/input/data/train", "/opt/ml/model"],
    }
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert read_tar(sm, bucket, "output/entrypoint/output/model.tar.gz") == {"copy.csv": b"5\n"}


def test_job_created_through_a_plain_boto3_client_runs(sm, bucket, upload_code, training_request):
    code = upload_code({"train.py": "import os\nopen(os.environ['SM_MODEL_DIR'] + '/m', 'w')\n"})
    client = boto3.client("sagemaker")
    client.create_training_job(**training_request("via-boto3", code))
    desc = sm.wait_for_training_job("via-boto3", timeout=60)
    assert desc["TrainingJobStatus"] == "Completed"
    assert client.describe_training_job(TrainingJobName="via-boto3")["TrainingJobStatus"] == (
        "Completed"
    )
    with pytest.raises(client.exceptions.ResourceInUse):
        client.create_training_job(**training_request("via-boto3", code))
    augmented = training_request("via-boto3-aug", code, channels={"t": f"s3://{bucket}/m"})
    augmented["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = (
        "AugmentedManifestFile"
    )
    with pytest.raises(client.exceptions.ClientError, match="AugmentedManifestFile") as info:
        client.create_training_job(**augmented)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_file_data_source_and_local_source_dir(
    sm, read_tar, run_training, bucket, training_request, tmp_path
):
    """The SDK local mode's `file://` channels and a local source dir work too."""
    data = tmp_path / "local-data"
    data.mkdir()
    (data / "x.csv").write_text("9\n")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TOOLKIT_SCRIPT)
    request = training_request("local-inputs", str(src))
    request["InputDataConfig"] = [
        {
            "ChannelName": "train",
            "DataSource": {
                "FileDataSource": {
                    "FileUri": f"file://{data}",
                    "FileDataDistributionType": "FullyReplicated",
                }
            },
        }
    ]
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["InputDataConfig"] == request["InputDataConfig"]
    model = read_tar(sm, bucket, "output/local-inputs/output/model.tar.gz")
    assert json.loads(model["model.json"]) == {"total": 9.0}
    missing = training_request("local-missing", str(src))
    missing["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"FileDataSource": {"FileUri": "file:///no/dir"}}}
    ]
    with pytest.raises(ValidationError, match="FileUri"):
        sm.create_training_job(**missing)


def test_tensorboard_output_is_synced(sm, run_training, bucket, script_request):
    script = (
        "import os\n"
        "tb = os.path.join(os.environ['SAGEMAKER_BASE_DIR'], 'output', 'tensorboard')\n"
        "os.makedirs(os.path.join(tb, 'run1'), exist_ok=True)\n"
        "open(os.path.join(tb, 'run1', 'events.out'), 'w').write('e')\n"
    )
    request = script_request(
        "tb-job", script, TensorBoardOutputConfig={"S3OutputPath": f"s3://{bucket}/tb/tb-job"}
    )
    desc = run_training(request, timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TensorBoardOutputConfig"] == request["TensorBoardOutputConfig"]
    assert keys(sm, bucket, "tb/") == ["tb/tb-job/run1/events.out"]


def test_script_hard_coding_opt_ml_runs(
    sm, read_tar, run_training, bucket, upload_code, training_request, container_mode
):
    """Without a container /opt/ml does not exist; a script that hard-codes it (as the
    SDK's _repack_model.py does) still reads and writes its host dir."""
    script = (
        "import json\n"
        "hps = json.load(open('/opt/ml/input/config/hyperparameters.json'))\n"
        "open('/opt/ml/model/x', 'w').write(hps['epochs'])\n"
    )
    code = upload_code({"train.py": script})
    desc = run_training(
        training_request("hard-coded", code, hyperparameters={"epochs": 4}), timeout=60
    )
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert read_tar(sm, bucket, "output/hard-coded/output/model.tar.gz") == {"x": b"4"}


def test_failing_model_pack_fails_the_job_and_uploads_no_model(
    sm, run_training, bucket, upload_code, training_request, fail_tar_member
):
    """Whole or absent: a model.tar.gz that cannot be packed is never uploaded, half or
    whole; the job fails saying so, output.tar.gz is kept."""
    script = (
        "import os\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'weights.bin'), 'w').write('w')\n"
        "open(os.path.join(os.environ['SM_OUTPUT_DATA_DIR'], 'report.txt'), 'w').write('r')\n"
    )
    code = upload_code({"train.py": script})
    fail_tar_member("weights.bin", "I/O error reading weights.bin")
    desc = run_training(training_request("bad-pack", code), timeout=60)
    assert desc["TrainingJobStatus"] == "Failed"
    assert "uploading the artifacts" in desc["FailureReason"]
    assert "I/O error reading weights.bin" in desc["FailureReason"]
    assert keys(sm, bucket, "output/bad-pack/") == ["output/bad-pack/output/output.tar.gz"]
    artifacts = sm.workspace / "jobs" / "bad-pack" / "artifacts"
    assert sorted(p.name for p in artifacts.iterdir()) == ["output.tar.gz"]  # no .partial
    validate_response("DescribeTrainingJob", desc)


def test_checkpoints_are_synced_while_the_job_runs(sm, run_training, bucket, script_request):
    """SageMaker uploads /opt/ml/checkpoints to CheckpointConfig.S3Uri during the job, not
    only at its end: the script itself sees its checkpoint in S3 before it exits."""
    script = (
        "import os, time, boto3\n"
        "ckpt = os.environ['SM_CHECKPOINT_DIR']\n"
        "open(os.path.join(ckpt, 'epoch-1.pt'), 'w').write('state')\n"
        "s3 = boto3.client('s3')\n"
        "for _ in range(300):\n"
        f"    found = s3.list_objects_v2(Bucket='{bucket}', Prefix='ck/live/epoch-1.pt')\n"
        "    if found.get('KeyCount'):\n"
        "        print('synced-during-run', flush=True)\n"
        "        break\n"
        "    time.sleep(0.1)\n"
    )
    request = script_request(
        "live-ckpt", script, CheckpointConfig={"S3Uri": f"s3://{bucket}/ck/live"}
    )
    desc = run_training(request)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    log = (sm.workspace / "jobs" / "live-ckpt" / "logs" / "algo-1.log").read_text()
    assert "synced-during-run" in log


def test_training_image_runs_with_its_mapped_interpreter(
    sm, read_tar, run_training, bucket, upload_code, training_request, tmp_path
):
    """The images map: a DLC image URI pointed at another interpreter (here a wrapper
    standing for a venv's python) runs the job's script with it."""
    import stat
    import sys

    from simulator.images import ImageMap

    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text(f'#!/bin/sh\nexport VENV_MARK=pt21\nexec {sys.executable} "$@"\n')
    venv_python.chmod(venv_python.stat().st_mode | stat.S_IXUSR)
    sm.images = ImageMap({"*pytorch-training:2.1-*": str(venv_python)}, "test")
    script = (
        "import os\n"
        "open(os.path.join(os.environ['SM_MODEL_DIR'], 'mark'), 'w')"
        ".write(os.environ.get('VENV_MARK', 'default python'))\n"
    )
    code = upload_code({"train.py": script})
    desc = run_training(training_request("mapped-image", code), timeout=60)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    assert read_tar(sm, bucket, "output/mapped-image/output/model.tar.gz") == {"mark": b"pt21"}


def test_requirements_txt_is_checked_not_installed(
    sm, run_training, bucket, upload_code, training_request
):
    """The toolkit would pip-install code/requirements.txt; smsim (offline) fails the job
    before the script when the image's interpreter lacks a package, and says how to fix."""
    script = "open('/opt/ml/model/ran', 'w').write('yes')\n"
    missing = upload_code(
        {"train.py": script, "requirements.txt": "smsim-no-such-package>=1\n"},
        key="req/missing/sourcedir.tar.gz",
    )
    desc = run_training(training_request("req-missing", missing))
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("ClientError: ") and "requirements.txt lists packages" in reason
    assert "smsim-no-such-package" in reason and "images.json" in reason
    present = upload_code(
        {"train.py": script, "requirements.txt": "pip\n"}, key="req/ok/sourcedir.tar.gz"
    )
    desc = run_training(training_request("req-ok", present))
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
