"""What many test files share: the AWS values a user's code names, the SDK-shaped request
builders, and small helpers (``from tests.support import ...``).

Nothing here imports ``simulator`` at module level: the tests of ``tests/e2e`` that are
plain clients of a ``smsim serve`` process use it too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
PROCESSING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bsm-processing:latest"
# The SDK reads defaults from a config dict; this one only opts out of telemetry, which
# would otherwise try to reach the internet.
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
# The BSM pipeline's first steps, in order: preprocess → train → evaluate → the AUC gate
# (the SDK-built pipeline and the fixture definition share them).
BSM_STEPS = ["TabularPreprocessing", "PyTorchTraining", "ModelEvaluation", "CheckAUC"]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # 2 shared CPU cores


@contextmanager
def started_sagemaker(
    workspace: Path, log_sink: Callable[[str], None], bucket: str, **options: Any
) -> Iterator[Any]:
    """A started LocalSageMaker as the tests use it: a short stop grace and checkpoint sync
    interval, lines to ``log_sink``, ``bucket`` created; ``options`` (faults, backend, …)
    passed on."""
    from simulator import LocalSageMaker

    settings = {"stop_grace_seconds": 3.0, "checkpoint_sync_seconds": 0.2, **options}
    with LocalSageMaker(workspace=workspace, log_sink=log_sink, **settings) as session:
        session.s3.create_bucket(Bucket=bucket)
        yield session


def sourcedir_tar(files: dict[str, str]) -> bytes:
    """A sourcedir.tar.gz holding ``files`` (name → text), members with relative names."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


# -- CreateTrainingJob, as the SageMaker Python SDK sends it ------------------------------
def sdk_hyperparameters(
    program: str, code_uri: str, values: dict[str, Any] | None = None
) -> dict[str, str]:
    """A script-mode job's HyperParameters: JSON-encoded values plus the SDK's
    ``sagemaker_*`` entries naming the entry point and its sourcedir.tar.gz."""
    return {
        **{k: json.dumps(v) for k, v in (values or {}).items()},
        "sagemaker_program": json.dumps(program),
        "sagemaker_submit_directory": json.dumps(code_uri),
        "sagemaker_container_log_level": "20",
        "sagemaker_region": json.dumps("us-east-1"),
    }


def s3_channels(channels: dict[str, str] | dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """InputDataConfig: one S3Prefix channel per name → URI (or → (URI, ContentType))."""
    out = []
    for name, where in channels.items():
        uri, content_type = where if isinstance(where, tuple) else (where, None)
        channel: dict[str, Any] = {"ChannelName": name}
        if content_type:
            channel["ContentType"] = content_type
        channel["DataSource"] = {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        }
        out.append(channel)
    return out


def job_resources(
    output_uri: str,
    *,
    instance_type: str = "ml.m5.xlarge",
    volume_gb: int = 30,
    max_runtime: int = 600,
) -> dict[str, Any]:
    """OutputDataConfig, ResourceConfig and StoppingCondition of one instance (a training
    job's request, or a tuning job's TrainingJobDefinition)."""
    return {
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {
            "InstanceType": instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": volume_gb,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def training_request(
    name: str,
    image: str,
    hyperparameters: dict[str, str],
    channels: dict[str, str] | dict[str, tuple[str, str]] | None,
    output_uri: str,
    *,
    algorithm: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A CreateTrainingJob request (no InputDataConfig when there are no channels);
    ``algorithm``: more AlgorithmSpecification members; ``resources``: job_resources'
    options; ``extra``: more request members."""
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            **(algorithm or {}),
        },
        "RoleArn": ROLE,
        "HyperParameters": hyperparameters,
    }
    if channels:
        request["InputDataConfig"] = s3_channels(channels)
    request.update(job_resources(output_uri, **(resources or {})))
    request.update(extra)
    return request


# -- CreateProcessingJob --------------------------------------------------------------
def processing_input(name: str, uri: str, local_path: str, **s3_members: Any) -> dict[str, Any]:
    """One S3Prefix ProcessingInput; ``s3_members``: more S3Input members."""
    return {
        "InputName": name,
        "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", **s3_members},
    }


def processing_request(
    name: str,
    entrypoint: list[str],
    arguments: list[str] | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: dict[str, tuple[str, str]] | None = None,
    environment: dict[str, str] | None = None,
    max_runtime: int = 300,
    *,
    instance_count: int = 1,
    volume_gb: int = 30,
    **extra: Any,
) -> dict[str, Any]:
    """A CreateProcessingJob request on ``instance_count`` ml.m5.xlarge; ``outputs``: name →
    (S3 URI, local path), uploaded at the end of the job. A member left None is absent
    from the request, as the SDK leaves it out."""
    app: dict[str, Any] = {"ImageUri": PROCESSING_IMAGE, "ContainerEntrypoint": entrypoint}
    if arguments is not None:
        app["ContainerArguments"] = arguments
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": instance_count,
                "VolumeSizeInGB": volume_gb,
            }
        },
        "AppSpecification": app,
        "RoleArn": ROLE,
    }
    if inputs is not None:
        request["ProcessingInputs"] = inputs
    if outputs is not None:
        request["ProcessingOutputConfig"] = {
            "Outputs": [
                {
                    "OutputName": output,
                    "S3Output": {"S3Uri": uri, "LocalPath": path, "S3UploadMode": "EndOfJob"},
                }
                for output, (uri, path) in outputs.items()
            ]
        }
    if environment is not None:
        request["Environment"] = environment
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime}
    request.update(extra)
    return request


# -- pipelines ------------------------------------------------------------------------
# The BSM steps that take the trained model, each with the dependency that wires it.
MODEL_CONSUMERS = (
    ("ModelEvaluation", "model_input"),
    ("CreateBSMModel", "model_data"),
    ("RegisterBSMModel", "model_data"),
)


def planned_wiring(dag: str) -> dict[tuple[str, str], str | None]:
    """``smsim pipeline plan --dag DAG --json``, as (step, dependency) → the step the
    resolver chose to satisfy it (None where nothing was chosen)."""
    from click.testing import CliRunner

    from simulator.cli import main

    result = CliRunner().invoke(main, ["pipeline", "plan", "--dag", dag, "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    return {
        (step["name"], d["dependency"]): (d["chosen"] or {}).get("step")
        for step in plan["steps"]
        for d in step["dependencies"]
    }


def condition_step(
    name: str, conditions: list[dict[str, Any]], if_steps: list[Any], else_steps: list[Any]
) -> dict[str, Any]:
    """A Condition step of a pipeline definition document (the SDK's ConditionStep)."""
    return {
        "Name": name,
        "Type": "Condition",
        "Arguments": {"Conditions": conditions, "IfSteps": if_steps, "ElseSteps": else_steps},
    }


def at_least(left: Any, right: Any) -> dict[str, Any]:
    """A GreaterThanOrEqualTo condition (ConditionGreaterThanOrEqualTo)."""
    return {"Type": "GreaterThanOrEqualTo", "LeftValue": left, "RightValue": right}


def fail_step(name: str, message: Any) -> dict[str, Any]:
    """A Fail step ending the execution with ``message`` (a string or an expression)."""
    return {"Name": name, "Type": "Fail", "Arguments": {"ErrorMessage": message}}


def joined(*values: Any) -> dict[str, Any]:
    """Std:Join of ``values`` on a space."""
    return {"Std:Join": {"On": " ", "Values": list(values)}}


def start_execution(sm: Any, name: str, parameters: dict[str, Any], **start: Any) -> str:
    """StartPipelineExecution of pipeline ``name`` with ``parameters``; its ARN."""
    if parameters:
        start["PipelineParameters"] = [{"Name": k, "Value": v} for k, v in parameters.items()]
    return sm.start_pipeline_execution(PipelineName=name, **start)["PipelineExecutionArn"]


def finish_execution(
    sm: Any, arn: str, timeout: float
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Wait for the execution's end: its description and its steps by name."""
    desc = sm.wait_for_pipeline_execution(arn, timeout=timeout)
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    return desc, {s["StepName"]: s for s in steps}


def run_pipeline(
    sm: Any, name: str, parameters: dict[str, Any], timeout: float
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Start an execution of pipeline ``name`` and wait for its end (finish_execution)."""
    return finish_execution(sm, start_execution(sm, name, parameters), timeout)


def assert_steps_succeeded(desc: dict[str, Any], steps: dict[str, Any], expected: list[str]):
    """The execution succeeded and exactly the ``expected`` steps ran, each Succeeded."""
    assert desc["PipelineExecutionStatus"] == "Succeeded", desc.get("FailureReason")
    assert {n: s["StepStatus"] for n, s in steps.items()} == dict.fromkeys(expected, "Succeeded")


def script_processor(
    processor_class: Any,
    session: Any,
    image: str = PROCESSING_IMAGE,
    instance_type: str = "ml.m5.xlarge",
    **options: Any,
) -> Any:
    """The SDK's ScriptProcessor (v2's ``sagemaker.processing`` or v3's
    ``sagemaker.core.processing`` class) running ``python3`` on one instance."""
    return processor_class(
        image_uri=image,
        command=["python3"],
        instance_type=instance_type,
        instance_count=1,
        role=ROLE,
        sagemaker_session=session,
        **options,
    )


# -- job scripts run directly -------------------------------------------------------
def script_env(base: Path, **extra: str) -> dict[str, str]:
    """This process's environment minus SM_*/SAGEMAKER_* variables, with ``base`` as the
    job's /opt/ml (SAGEMAKER_BASE_DIR, which our scripts resolve their paths against)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "SAGEMAKER_"))}
    env.update(SAGEMAKER_BASE_DIR=str(base), PYTHONUNBUFFERED="1", **extra)
    return env


def run_script(
    path: str,
    cwd: Path,
    base: Path,
    args: tuple[str, ...] = (),
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python path *args`` in ``cwd`` with ``base`` as /opt/ml; raises if ``check`` and
    it failed, with its output."""
    proc = subprocess.run(
        [sys.executable, path, *args],
        cwd=cwd,
        env=script_env(base, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        name = Path(path).name
        raise AssertionError(f"{name} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass (for a state that a
    background thread or process reaches; the test asserts the state, not the time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def cli_refusal(argv: list[str], columns: int = 80, timeout: float = 300) -> str:
    """Run a CLI command that must refuse (exit 2, smsim's EXIT_UNUSABLE) with one line and
    no traceback; that line."""
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        timeout=timeout,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]
