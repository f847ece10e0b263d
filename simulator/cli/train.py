"""`smsim train`: one training job from a step spec and its script contract.

    smsim train --spec pytorch_training --input input_path=DIR_OR_S3URI \
        --hyperparameters hps.json [--job-name N] [--output-path S3URI] \
        [--checkpoint-s3-uri S3URI] [--max-runtime SECONDS] [--json]

The request is built the way the SageMaker Python SDK builds it
(:mod:`simulator.requests`): the contract's entry point as ``sagemaker_program``, the
source dir uploaded as ``sourcedir.tar.gz``, every hyperparameter JSON-encoded, one
channel per ``train``/``val``/``test`` subfolder of the input, the contract's
MetricDefinitions. :mod:`simulator.spec_job` stages and runs it. Logs stream live to
stderr; the description summary and every spec output resolved through its property
path (:mod:`simulator.outputs`) go to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from simulator.cli.interrupt import Interruptible
from simulator.cli.options import faults_option, json_option, number_option, workspace_option
from simulator.cli.output import EXIT_FAILED, EXIT_OK, console, emit_json, err_console, fail
from simulator.errors import SmsimError
from simulator.requests import DEFAULT_SOURCE_DIR
from simulator.shapes import describe_rule, value_problems
from simulator.spec_job import InputError, check_input_dir, default_job_name, run_training_spec


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


def _display(entry: dict[str, Any]) -> str:
    if "error" in entry:
        return "[yellow]not in this job's description[/] (see --json for the reason)"
    value = entry["value"]
    if isinstance(value, list) and all(isinstance(v, dict) and "MetricName" in v for v in value):
        return escape(", ".join(f"{v['MetricName']}={v['Value']:.4f}" for v in value))
    return escape(value if isinstance(value, str) else json.dumps(value, default=str))


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
    artifacts = desc["ModelArtifacts"]["S3ModelArtifacts"]
    if status == "Failed":  # SageMaker uploads no model.tar.gz for a failed job
        artifacts += " [yellow](not uploaded: the job failed)[/]"
    table.add_row("Model artifacts", artifacts)
    if "FailureReason" in desc:
        table.add_row("Failure reason", f"[red]{escape(desc['FailureReason'])}[/]")
    console.print(table)
    if desc.get("FinalMetricDataList"):
        metrics = Table(title="Final metrics")
        metrics.add_column("Metric")
        metrics.add_column("Value", justify="right")
        for m in desc["FinalMetricDataList"]:
            metrics.add_row(escape(m["MetricName"]), f"{m['Value']:.4f}")
        console.print(metrics)
    resolved = Table(title="Spec outputs (resolved property paths)")
    resolved.add_column("Output", no_wrap=True)
    resolved.add_column("Property path", overflow="fold")
    resolved.add_column("Value", overflow="fold")
    for name, item in outputs.items():
        resolved.add_row(name, escape(item["property_path"]), _display(item))
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
    @number_option(
        "--max-runtime", click.IntRange(min=1), 86400, "StoppingCondition.MaxRuntimeInSeconds."
    )
    @click.option(
        "--source-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        default=DEFAULT_SOURCE_DIR,
        show_default=True,
        help="Directory holding the contract's entry point.",
    )
    @click.option("--image", default=None, help="TrainingImage URI (mapped to an interpreter).")
    @faults_option()
    @workspace_option()
    @json_option()
    def train(
        spec_name: str,
        inputs: tuple[str, ...],
        hp_file: Path | None,
        job_name: str | None,
        as_json: bool,
        **options: Any,  # output_path … workspace: run_training_spec's own keywords
    ) -> None:
        """Run one SageMaker training job locally from a step spec."""
        with Interruptible(options["workspace"], as_json):  # Ctrl-C: stop, report, exit 130
            try:
                spec, given, hyperparameters = _checked_arguments(
                    spec_name, inputs, hp_file, job_name, options["source_dir"]
                )
                name = job_name or default_job_name(spec)
                desc, outputs = run_training_spec(
                    spec,
                    given["input_path"],
                    hyperparameters,
                    name=name,
                    on_start=None if as_json else _announce,
                    **options,
                )
            except InputError as exc:
                bad = click.BadParameter(exc.message, param_hint=exc.option)
                if not as_json:
                    raise bad from exc
                fail(bad.format_message(), as_json)
            except click.BadParameter as exc:
                if not as_json:
                    raise
                fail(exc.format_message(), as_json)
            except SmsimError as exc:
                fail(str(exc), as_json)
        where = str((options["workspace"] / "jobs" / name).resolve())
        if as_json:
            emit_json({"job": desc, "outputs": outputs, "workspace": where})
        else:
            print_summary(desc, outputs)
            console.print(f"workspace: {escape(where)}")
        raise SystemExit(EXIT_OK if desc["TrainingJobStatus"] == "Completed" else EXIT_FAILED)


def _announce(name: str) -> None:
    err_console.print(f"[bold]training job {escape(name)}[/] started; logs follow")


def _checked_arguments(
    spec_name: str,
    inputs: tuple[str, ...],
    hp_file: Path | None,
    job_name: str | None,
    source_dir: Path,
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """(spec, inputs, hyperparameters), every argument checked before anything starts."""
    spec = find_spec(spec_name)
    contract = spec.script_contract
    if spec.sagemaker_step_type.value != "Training":
        raise click.BadParameter(
            f"spec {spec.step_type} is a {spec.sagemaker_step_type.value} step, not a "
            "Training step; choose a training spec (e.g. pytorch_training)",
            param_hint="--spec",
        )
    if contract is None or not hasattr(contract, "entry_point"):
        raise click.BadParameter(
            f"spec {spec.step_type} has no script contract", param_hint="--spec"
        )
    given = parse_inputs(inputs, spec)
    if "input_path" not in given:
        raise click.BadParameter("give --input input_path=DIR_OR_S3URI", param_hint="--input")
    try:
        check_input_dir(given["input_path"])
    except InputError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.option) from exc
    if not (source_dir / contract.entry_point).is_file():
        raise click.BadParameter(
            f"{source_dir} has no {contract.entry_point} (the contract's entry point)",
            param_hint="--source-dir",
        )
    if job_name is not None and value_problems("TrainingJobName", job_name, "--job-name"):
        raise click.BadParameter(
            f"{job_name!r} is not a valid training job name: use letters, digits and "
            f"hyphens, starting and ending with a letter or digit: "
            f"{describe_rule('TrainingJobName')}",
            param_hint="--job-name",
        )
    hyperparameters: dict[str, Any] = {}
    if hp_file is not None:
        try:
            hyperparameters = json.loads(hp_file.read_text())
        except ValueError as exc:
            raise click.BadParameter(
                f"{hp_file}: not JSON ({exc}); write a JSON object such as "
                '{"max_epochs": 2, "lr": 0.01}',
                param_hint="--hyperparameters",
            ) from exc
        if not isinstance(hyperparameters, dict):
            raise click.BadParameter(
                f"{hp_file}: holds a JSON {type(hyperparameters).__name__}; write a JSON "
                'object such as {"max_epochs": 2, "lr": 0.01}',
                param_hint="--hyperparameters",
            )
    return spec, given, hyperparameters
