"""A simulator process the fault tests kill: ``python driver.py WORKSPACE MODE WHAT PIDFILE``.

It starts ``LocalSageMaker`` on WORKSPACE (container mode MODE), creates a training job
(WHAT = ``train-loud``: the script prints, its child is silent; ``train-quiet``: the
other way round), a pipeline execution with one such training step (``pipeline``) or
a tuning job of such training jobs (``tuning``),
then waits for ever. The job's script writes ``<script pid> <child pid> <daemon pid>``
to PIDFILE once its children run (the daemon: a grandchild in a session of its own).
Nothing here is from the tests' conftest: the process must not import pytest.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import time

from simulator import LocalSageMaker

BUCKET = "smsim-fault-bucket"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"

SCRIPT = """
import os, subprocess, sys, time
loud = os.environ["LOUD"] == "script"
tick = "import time\\nwhile True:\\n    print('child', flush=True)\\n    time.sleep(0.2)\\n"
still = "import time\\nwhile True:\\n    time.sleep(1)\\n"
child = subprocess.Popen([sys.executable, "-c", still if loud else tick])
daemon = subprocess.Popen([sys.executable, "-c", still], start_new_session=True)
path = os.environ["PID_FILE"]
with open(path + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid} {daemon.pid}")
os.replace(path + ".tmp", path)
while True:
    if loud:
        print("script tick", flush=True)
    time.sleep(0.2)
"""


def sourcedir(text: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def training_request(name: str | None, loud: str, pid_file: str) -> dict:
    hps = {
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
    }
    request = {
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": hps,
        "Environment": {"PID_FILE": pid_file, "LOUD": loud},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    if name:
        request["TrainingJobName"] = name
    return request


def main(workspace: str, mode: str, what: str, pid_file: str) -> None:
    sm = LocalSageMaker(workspace=workspace, container_mode=mode, stop_grace_seconds=1)
    sm.start()
    sm.s3.create_bucket(Bucket=BUCKET)
    sm.s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=sourcedir(SCRIPT))
    if what == "pipeline":
        arguments = training_request(None, "script", pid_file)
        definition = {
            "Version": "2020-12-01",
            "Steps": [{"Name": "Train", "Type": "Training", "Arguments": arguments}],
        }
        sm.create_pipeline(
            PipelineName="Doomed", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )
        sm.start_pipeline_execution(PipelineName="Doomed")
    elif what == "tuning":
        job = training_request(None, "script", pid_file)
        job.pop("HyperParameters")
        job["StaticHyperParameters"] = training_request(None, "", "")["HyperParameters"]
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="doomed-tuning",
            HyperParameterTuningJobConfig={
                "Strategy": "Random",
                "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {"Name": "lr", "MinValue": "0.1", "MaxValue": "1"}
                    ]
                },
            },
            TrainingJobDefinition={
                **job,
                "AlgorithmSpecification": {
                    **job["AlgorithmSpecification"],
                    "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
                },
            },
        )
    else:
        loud = "script" if what == "train-loud" else "child"
        sm.create_training_job(**training_request("doomed", loud, pid_file))
    while True:  # until killed
        time.sleep(1)


if __name__ == "__main__":
    main(*sys.argv[1:5])
