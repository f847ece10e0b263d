"""The job `smsim train` runs: a CreateTrainingJob request shaped as the SageMaker Python
SDK shapes it, its inputs and code staged in the embedded S3, the run, its outputs resolved.

The contract's entry point becomes ``sagemaker_program``, the source dir is uploaded
as ``sourcedir.tar.gz``, every hyperparameter is JSON-encoded, one channel per
``train``/``val``/``test`` subfolder of the input, MetricDefinitions match
train.py's ``epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…`` lines.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from simulator.cli.output import err_console
from simulator.errors import SmsimError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE_DIR = REPO_ROOT / "dockers" / "pytorch_bsm"
DEFAULT_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-training:2.1-cpu-py310"
ROLE_ARN = "arn:aws:iam::{account}:role/SageMakerRole"
CHANNELS = ("train", "val", "test")
REQUIRED_CHANNELS = ("train", "val")
JOB_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateTrainingJob's pattern
# train.py prints `epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…` each epoch.
METRIC_DEFINITIONS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
    {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
    {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
    {"Name": "val:f1", "Regex": r"val_f1=([0-9\.]+)"},
]


def default_job_name(spec: Any) -> str:
    """``<step-type>-<timestamp>``, as the SDK names jobs (base name + timestamp)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    base = re.sub(r"[^a-zA-Z0-9]+", "-", spec.step_type).strip("-").lower()
    return f"{base}-{stamp}"[:63]


def build_request(
    *,
    job_name: str,
    contract: Any,
    code_uri: str,
    channels: dict[str, str],
    hyperparameters: dict[str, Any],
    output_path: str,
    region: str,
    account: str,
    image: str,
    checkpoint_uri: str | None,
    max_runtime: int,
) -> dict[str, Any]:
    """The CreateTrainingJob request the SageMaker Python SDK would send."""
    hps = {str(k): json.dumps(v) for k, v in hyperparameters.items()}
    hps.update(
        {
            "sagemaker_program": json.dumps(contract.entry_point),
            "sagemaker_submit_directory": json.dumps(code_uri),
            "sagemaker_container_log_level": "20",
            "sagemaker_region": json.dumps(region),
        }
    )
    request: dict[str, Any] = {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": METRIC_DEFINITIONS,
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": ROLE_ARN.format(account=account),
        "HyperParameters": hps,
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for name, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": output_path},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if checkpoint_uri:
        request["CheckpointConfig"] = {"S3Uri": checkpoint_uri}
    return request


def check_input_dir(input_value: str) -> None:
    """A local ``--input`` must be a directory with train/ and val/ (test/ optional)."""
    if input_value.startswith("s3://"):
        return
    local = Path(input_value).expanduser()
    if not local.is_dir():
        raise click.BadParameter(
            f"{input_value!r} is neither an existing directory nor an s3:// URI; give a "
            "directory holding train/ and val/ (and test/) subfolders",
            param_hint="--input",
        )
    missing = [ch for ch in REQUIRED_CHANNELS if not (local / ch).is_dir()]
    if missing:
        raise click.BadParameter(
            f"{local} has no {', '.join(missing)}/ subfolder(s); expected train/, val/ (and test/)",
            param_hint="--input",
        )


def stage_channels(sm: Any, input_value: str, bucket: str, job_name: str) -> dict[str, str]:
    """Channel URIs for train/val/test: a local dir's subfolders are uploaded first."""
    from simulator.s3 import S3Uri, parse_s3_uri, upload_dir

    if input_value.startswith("s3://"):
        root = parse_s3_uri(input_value, "--input")
        channels = {ch: str(root.join(ch)) for ch in CHANNELS if _s3_has(sm, root.join(ch))}
        missing = [ch for ch in REQUIRED_CHANNELS if ch not in channels]
        if missing:
            raise click.BadParameter(
                f"no objects under {', '.join(str(root.join(ch)) + '/' for ch in missing)} in "
                "the embedded S3, which starts empty in every smsim run; give a local directory "
                "with train/ and val/ (and test/) subfolders instead: smsim uploads it",
                param_hint="--input",
            )
        return channels
    check_input_dir(input_value)
    local = Path(input_value).expanduser()
    channels = {}
    for ch in CHANNELS:
        if (local / ch).is_dir():
            target = S3Uri(bucket, f"smsim/{job_name}/input/{ch}")
            upload_dir(sm.s3, local / ch, target)
            channels[ch] = str(target)
    return channels


def _s3_has(sm: Any, uri: Any) -> bool:
    resp = sm.s3.list_objects_v2(Bucket=uri.bucket, Prefix=uri.key, MaxKeys=1)
    return resp.get("KeyCount", 0) > 0


def upload_source_dir(sm: Any, source_dir: Path, bucket: str, job_name: str) -> str:
    """Pack the source dir as sourcedir.tar.gz and upload it (the SDK's code upload)."""
    from simulator.s3 import S3Uri, pack_tar_gz, upload_file

    with tempfile.TemporaryDirectory() as tmp:
        archive = pack_tar_gz(source_dir, Path(tmp) / "sourcedir.tar.gz")
        target = S3Uri(bucket, f"{job_name}/source/sourcedir.tar.gz")
        upload_file(sm.s3, archive, target)
    return str(target)


def resolve_outputs(spec: Any, description: dict[str, Any]) -> dict[str, Any]:
    """Every spec output resolved through its property path (errors kept as text)."""
    from simulator.properties import resolve_property_path

    out: dict[str, Any] = {}
    for output in spec.outputs.values():
        try:
            value = resolve_property_path(
                description, output.property_path, step_name=spec.step_type
            )
        except SmsimError as exc:
            value = {"error": str(exc)}
        out[output.logical_name] = {"property_path": output.property_path, "value": value}
    return out


def run_job(
    spec: Any,
    input_value: str,
    hyperparameters: dict[str, Any],
    *,
    name: str,
    output_path: str | None,
    checkpoint_s3_uri: str | None,
    max_runtime: int,
    source_dir: Path,
    image: str | None,
    workspace: Path,
    announce: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stage inputs and code in the embedded S3, run the job with live logs, resolve outputs."""
    from simulator.s3 import ensure_bucket, parse_s3_uri
    from simulator.session import LocalSageMaker

    with LocalSageMaker(workspace=workspace) as sm:
        bucket = f"sagemaker-{sm.region}-{sm.account_id}"  # the SDK's default bucket
        ensure_bucket(sm.s3, bucket)
        for option, uri in (
            ("--output-path", output_path),
            ("--checkpoint-s3-uri", checkpoint_s3_uri),
            ("--input", input_value),
        ):
            if uri and (option != "--input" or uri.startswith("s3://")):
                ensure_bucket(sm.s3, parse_s3_uri(uri, option).bucket)
        channels = stage_channels(sm, input_value, bucket, name)
        code_uri = upload_source_dir(sm, source_dir, bucket, name)
        request = build_request(
            job_name=name,
            contract=spec.script_contract,
            code_uri=code_uri,
            channels=channels,
            hyperparameters=hyperparameters,
            output_path=output_path or f"s3://{bucket}/",
            region=sm.region,
            account=sm.account_id,
            image=image or DEFAULT_IMAGE.format(region=sm.region),
            checkpoint_uri=checkpoint_s3_uri,
            max_runtime=max_runtime,
        )
        sm.create_training_job(**request)
        if announce:
            err_console.print(f"[bold]training job {escape(name)}[/] started; logs follow")
        desc = sm.wait_for_training_job(name)
        return desc, resolve_outputs(spec, desc)
