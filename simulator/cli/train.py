"""`smsim train`: one training job from a step spec and its script contract.

    smsim train --spec pytorch_training --input input_path=DIR_OR_S3URI \
        --hyperparameters hps.json [--job-name N] [--output-path S3URI] \
        [--checkpoint-s3-uri S3URI] [--max-runtime SECONDS] [--json]

The request is built the way the SageMaker Python SDK builds it: the
contract's entry point as ``sagemaker_program``, the source dir uploaded as
``sourcedir.tar.gz``, every hyperparameter JSON-encoded, one channel per
``train``/``val``/``test`` subfolder of the input, MetricDefinitions matching
train.py's ``epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…`` lines.
Logs stream live to stderr; the description summary and every spec output
resolved through its property path go to stdout.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    console,
    emit_json,
    err_console,
)
from simulator.errors import SmsimError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE_DIR = REPO_ROOT / "dockers" / "pytorch_bsm"
DEFAULT_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-training:2.1-cpu-py310"
ROLE_ARN = "arn:aws:iam::{account}:role/SageMakerRole"
CHANNELS = ("train", "val", "test")
REQUIRED_CHANNELS = ("train", "val")
# train.py prints `epoch=N train_loss=… val_loss=… val_auroc=… val_f1=…` each epoch.
METRIC_DEFINITIONS = [
    {"Name": "train:loss", "Regex": r"train_loss=([0-9\.]+)"},
    {"Name": "val:loss", "Regex": r"val_loss=([0-9\.]+)"},
    {"Name": "val:auroc", "Regex": r"val_auroc=([0-9\.]+)"},
    {"Name": "val:f1", "Regex": r"val_f1=([0-9\.]+)"},
]


def find_spec(name: str) -> Any:
    """A spec by step type (``PyTorchTraining``) or its snake-case name (``pytorch_training``)."""
    from specs.registry import default_registry

    registry = default_registry()
    wanted = name.replace("_", "").replace("-", "").lower()
    for step_type in registry.list():
        if step_type.lower() == wanted:
            return registry.get(step_type)
    raise click.BadParameter(
        f"no spec {name!r}; known: {', '.join(registry.list())}", param_hint="--spec"
    )


def parse_inputs(values: tuple[str, ...], spec: Any) -> dict[str, str]:
    """``--input name=DIR_OR_S3URI`` pairs, names checked against the spec's dependencies."""
    known = list(spec.dependencies)
    out: dict[str, str] = {}
    for value in values:
        name, sep, where = value.partition("=")
        if not sep or not name or not where:
            raise click.BadParameter(f"{value!r}: write NAME=DIR_OR_S3URI", param_hint="--input")
        if name not in known:
            raise click.BadParameter(
                f"{name!r} is not a dependency of {spec.step_type}; known: {', '.join(known)}",
                param_hint="--input",
            )
        out[name] = where
    return out


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


def stage_channels(sm: Any, input_value: str, bucket: str, job_name: str) -> dict[str, str]:
    """Channel URIs for train/val/test: a local dir's subfolders are uploaded first."""
    from simulator.s3 import parse_s3_uri, upload_dir

    if input_value.startswith("s3://"):
        root = parse_s3_uri(input_value, "--input")
        return {ch: str(root.join(ch)) for ch in CHANNELS if _s3_has(sm, root.join(ch))}
    local = Path(input_value).expanduser()
    if not local.is_dir():
        raise click.BadParameter(
            f"{input_value!r} is not a directory or S3 URI", param_hint="--input"
        )
    missing = [ch for ch in REQUIRED_CHANNELS if not (local / ch).is_dir()]
    if missing:
        raise click.BadParameter(
            f"{local} has no {', '.join(missing)}/ subfolder(s); expected train/, val/ (and test/)",
            param_hint="--input",
        )
    from simulator.s3 import S3Uri

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


def _display(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"error"}:
        return "[yellow]not in this job's description[/] (see --json for the reason)"
    if isinstance(value, list) and all(isinstance(v, dict) and "MetricName" in v for v in value):
        return ", ".join(f"{v['MetricName']}={v['Value']:.4f}" for v in value)
    return value if isinstance(value, str) else json.dumps(value, default=str)


def print_summary(desc: dict[str, Any], outputs: dict[str, Any]) -> None:
    status = desc["TrainingJobStatus"]
    colour = {"Completed": "green", "Failed": "red", "Stopped": "yellow"}.get(status, "white")
    table = Table(title=f"Training job {desc['TrainingJobName']}", show_header=False)
    table.add_column("Field", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_row("Status", f"[{colour}]{status}[/] ({desc['SecondaryStatus']})")
    table.add_row("ARN", desc["TrainingJobArn"])
    if "TrainingTimeInSeconds" in desc:
        table.add_row("Training time", f"{desc['TrainingTimeInSeconds']} s")
    table.add_row("Model artifacts", desc["ModelArtifacts"]["S3ModelArtifacts"])
    if "FailureReason" in desc:
        table.add_row("Failure reason", f"[red]{desc['FailureReason']}[/]")
    console.print(table)
    if desc.get("FinalMetricDataList"):
        metrics = Table(title="Final metrics")
        metrics.add_column("Metric")
        metrics.add_column("Value", justify="right")
        for m in desc["FinalMetricDataList"]:
            metrics.add_row(m["MetricName"], f"{m['Value']:.4f}")
        console.print(metrics)
    resolved = Table(title="Spec outputs (resolved property paths)")
    resolved.add_column("Output", no_wrap=True)
    resolved.add_column("Property path", overflow="fold")
    resolved.add_column("Value", overflow="fold")
    for name, item in outputs.items():
        resolved.add_row(name, item["property_path"], _display(item["value"]))
    console.print(resolved)


def register(main: click.Group) -> None:
    """Add `smsim train` to `main`."""

    @main.command("train")
    @click.option("--spec", "spec_name", required=True, help="Step spec, e.g. pytorch_training.")
    @click.option(
        "--input",
        "inputs",
        multiple=True,
        required=True,
        help="NAME=DIR_OR_S3URI for a spec dependency (input_path: a dir with train/ val/ test/).",
    )
    @click.option(
        "--hyperparameters",
        "hp_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="JSON object of hyperparameters (plain values; encoded as the SDK does).",
    )
    @click.option("--job-name", default=None, help="Training job name (default: spec + timestamp).")
    @click.option("--output-path", default=None, help="S3OutputPath (default: the SDK's bucket).")
    @click.option("--checkpoint-s3-uri", default=None, help="CheckpointConfig.S3Uri.")
    @click.option(
        "--max-runtime",
        type=int,
        default=86400,
        show_default=True,
        help="StoppingCondition.MaxRuntimeInSeconds.",
    )
    @click.option(
        "--source-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=DEFAULT_SOURCE_DIR,
        show_default=True,
        help="Directory holding the contract's entry point.",
    )
    @click.option("--image", default=None, help="TrainingImage URI (mapped to an interpreter).")
    @click.option(
        "--workspace", type=click.Path(path_type=Path), default=Path(".smsim"), show_default=True
    )
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    def train(
        spec_name: str,
        inputs: tuple[str, ...],
        hp_file: Path | None,
        job_name: str | None,
        output_path: str | None,
        checkpoint_s3_uri: str | None,
        max_runtime: int,
        source_dir: Path,
        image: str | None,
        workspace: Path,
        as_json: bool,
    ) -> None:
        """Run one SageMaker training job locally from a step spec."""
        from simulator.s3 import ensure_bucket, parse_s3_uri
        from simulator.session import LocalSageMaker

        spec = find_spec(spec_name)
        contract = spec.script_contract
        if contract is None or not hasattr(contract, "entry_point"):
            raise click.BadParameter(
                f"spec {spec.step_type} has no script contract", param_hint="--spec"
            )
        if spec.sagemaker_step_type.value != "Training":
            raise click.BadParameter(
                f"spec {spec.step_type} is not a Training step", param_hint="--spec"
            )
        given = parse_inputs(inputs, spec)
        if "input_path" not in given:
            raise click.BadParameter("give --input input_path=DIR_OR_S3URI", param_hint="--input")
        if not (source_dir / contract.entry_point).is_file():
            raise click.BadParameter(
                f"{source_dir} has no {contract.entry_point}", param_hint="--source-dir"
            )
        hyperparameters: dict[str, Any] = {}
        if hp_file is not None:
            try:
                hyperparameters = json.loads(hp_file.read_text())
            except ValueError as exc:
                raise click.BadParameter(
                    f"{hp_file}: not JSON ({exc})", param_hint="--hyperparameters"
                ) from exc
            if not isinstance(hyperparameters, dict):
                raise click.BadParameter(
                    f"{hp_file}: must hold a JSON object", param_hint="--hyperparameters"
                )
        name = job_name or default_job_name(spec)
        try:
            with LocalSageMaker(workspace=workspace) as sm:
                bucket = f"sagemaker-{sm.region}-{sm.account_id}"  # the SDK's default bucket
                ensure_bucket(sm.s3, bucket)
                for uri in (output_path, checkpoint_s3_uri, given["input_path"]):
                    if uri and uri.startswith("s3://"):
                        ensure_bucket(sm.s3, parse_s3_uri(uri).bucket)
                channels = stage_channels(sm, given["input_path"], bucket, name)
                code_uri = upload_source_dir(sm, source_dir, bucket, name)
                request = build_request(
                    job_name=name,
                    contract=contract,
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
                if not as_json:
                    err_console.print(f"[bold]training job {name}[/] started; logs follow")
                desc = sm.wait_for_training_job(name)
                outputs = resolve_outputs(spec, desc)
        except SmsimError as exc:
            err_console.print(f"[red]error:[/] {exc}")
            raise SystemExit(EXIT_UNUSABLE) from exc
        if as_json:
            emit_json(
                {
                    "job": desc,
                    "outputs": {k: v["value"] for k, v in outputs.items()},
                    "workspace": str((workspace / "jobs" / name).resolve()),
                }
            )
        else:
            print_summary(desc, outputs)
            console.print(f"workspace: {(workspace / 'jobs' / name).resolve()}")
        raise SystemExit(EXIT_OK if desc["TrainingJobStatus"] == "Completed" else EXIT_FAILED)
