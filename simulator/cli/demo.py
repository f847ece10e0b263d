"""`smsim demo`: the BSM pipeline end to end, offline, in a few minutes on a laptop CPU.

What it does, in order, all inside one workspace:

1. synthesize raw BSM data (``simulator.datasets``) and upload it to the embedded S3;
2. assemble the ``bsm`` DAG (specs + contracts + config → a SageMaker pipeline
   definition) and upload the step code where the definition says it is;
3. ``CreatePipeline`` + ``StartPipelineExecution`` on the local SageMaker, with
   live progress while the steps run as real subprocesses;
4. print a step table and every spec output resolved through its property path
   against the step's Describe* response — the values SageMaker would give a
   downstream ``Get`` — then where the logs, artifacts and descriptions are.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.markup import escape

from simulator.cli.demo_report import (
    print_result,
    processing_key_output,
    resolved_outputs,
    step_summary,
)
from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    emit_json,
    err_console,
)
from simulator.cli.pipeline_progress import follow_execution, list_steps
from simulator.errors import SmsimError


def register(main: click.Group) -> None:
    """Add `smsim demo` to `main`."""
    main.add_command(demo)


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".smsim/demo"),
    show_default=True,
    help="Where data, jobs, logs, artifacts and descriptions are kept.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=50),
    default=2000,
    show_default=True,
    help="Rows of synthetic BSM data.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Training epochs (the MaxEpochs pipeline parameter).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Test AUROC the model must reach to be registered (default: config's 0.6).",
)
@click.option(
    "--model-class",
    default="multimodal_cnn",
    show_default=True,
    help="train.py model_class hyperparameter.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Data seed.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=1800,
    show_default=True,
    help="Seconds to wait for the execution before stopping it.",
)
@click.option("--verbose", is_flag=True, help="Stream the jobs' logs to stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def demo(
    workspace: Path,
    rows: int,
    epochs: int,
    threshold: float | None,
    model_class: str,
    seed: int,
    timeout: float,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run the BSM pipeline (preprocess → train → evaluate → gate → model + registry) locally."""
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _unusable(
            f"--workspace {workspace}: cannot create it ({exc.strerror}); "
            "pass a directory you can write to",
            as_json,
        )
    try:
        result = run_demo(
            workspace,
            rows=rows,
            epochs=epochs,
            threshold=threshold,
            model_class=model_class,
            seed=seed,
            timeout=timeout,
            verbose=verbose,
            progress=not as_json,
        )
    except SmsimError as exc:
        _unusable(str(exc), as_json)
    if as_json:
        emit_json(result)
    else:
        print_result(result)
    raise SystemExit(EXIT_OK if result["pipeline_execution_status"] == "Succeeded" else EXIT_FAILED)


def _unusable(message: str, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": message})
    else:
        err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
    raise SystemExit(EXIT_UNUSABLE)


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


def run_demo(
    workspace: Path,
    *,
    rows: int = 2000,
    epochs: int = 3,
    threshold: float | None = None,
    model_class: str = "multimodal_cnn",
    seed: int = 0,
    timeout: float = 1800,
    verbose: bool = False,
    progress: bool = True,
    source_dir: Path | None = None,
) -> dict[str, Any]:
    """Run the demo pipeline and return its summary (what ``--json`` prints).

    ``source_dir`` replaces dockers/pytorch_bsm as the step code (default: it).
    """
    from simulator.datasets import write_dataset
    from simulator.pipeline.build.assembly import assemble, iter_steps
    from simulator.pipeline.build.config import make_config
    from simulator.pipeline.build.dags import BSM
    from simulator.pipeline.build.step_code import upload_code
    from simulator.session import LocalSageMaker

    workspace = Path(workspace).expanduser().resolve()
    overrides: dict[str, Any] = {
        "hyperparameters": {"max_epochs": epochs, "model_class": model_class, "lr": 0.01}
    }
    if threshold is not None:
        overrides["auroc_threshold"] = threshold
    config = make_config(overrides, what="demo options")
    say = _Narrator(progress)

    with LocalSageMaker(workspace=workspace, log_sink=None if verbose else _quiet) as sm:
        say.step(f"Workspace {workspace}")
        data = write_dataset(workspace / "data", rows, seed=seed, split=False)
        sm.s3.create_bucket(Bucket=config.bucket)
        raw_file = Path(data["files"]["raw"])
        raw_key = config.raw_data_uri.removeprefix(f"s3://{config.bucket}/") + raw_file.name
        sm.s3.upload_file(str(raw_file), config.bucket, raw_key)
        say.step(f"Synthesized {rows} BSM orders -> s3://{config.bucket}/{raw_key}")

        source = Path(source_dir) if source_dir else None
        assembled = assemble(BSM, config, source_dir=source)
        code = upload_code(sm.s3, assembled.code, source)
        n_steps = sum(1 for _ in iter_steps(assembled.definition))
        say.step(
            f"Assembled DAG {BSM.name!r} into a pipeline definition of {n_steps} steps; "
            f"uploaded the step code ({len(code)} objects). Wiring by the resolver:"
        )
        for line in _wiring_lines(assembled):
            say.line(line)
        definition_path = workspace / "pipeline_definition.json"
        definition_path.write_text(assembled.to_json() + "\n")

        _create_or_update(sm, config, assembled.to_json())
        params = [{"Name": "MaxEpochs", "Value": str(epochs)}]
        params.append({"Name": BSM.gate.threshold_parameter, "Value": str(config.auroc_threshold)})
        started = sm.start_pipeline_execution(
            PipelineName=config.pipeline_name,
            PipelineExecutionDisplayName=f"demo-{int(time.time())}",
            PipelineParameters=params,
        )
        arn = started["PipelineExecutionArn"]
        say.step(f"Started execution {arn.rsplit('/', 1)[-1]} of pipeline {config.pipeline_name}")

        execution = follow_execution(sm, arn, timeout=timeout, show=say.enabled)
        steps = sorted(list_steps(sm, arn), key=lambda s: s.get("StartTime") or 0)
        descriptions = {s["StepName"]: _describe_step(sm, s) for s in steps}
        types = {s["Name"]: s["Type"] for s in iter_steps(assembled.definition)}
        evaluation = _evaluation_report(sm, descriptions.get(BSM.gate.source_step), BSM.gate)

        result = {
            "pipeline_name": config.pipeline_name,
            "pipeline_execution_arn": arn,
            "pipeline_execution_status": execution["PipelineExecutionStatus"],
            "failure_reason": execution.get("FailureReason"),
            "parameters": {p["Name"]: p["Value"] for p in params},
            "steps": [
                step_summary(
                    s,
                    descriptions.get(s["StepName"]),
                    workspace,
                    types[s["StepName"]],
                    processing_key_output(sm, s, descriptions.get(s["StepName"]), evaluation),
                )
                for s in steps
            ],
            "wiring": _wiring(assembled),
            "outputs": resolved_outputs(assembled, descriptions),
            "evaluation": evaluation,
            "auroc_threshold": config.auroc_threshold,
            "workspace": str(workspace),
            "definition_path": str(definition_path),
            "execution_dir": _execution_dir(sm, arn),
            "data": {"rows": rows, "raw_uri": f"s3://{config.bucket}/{raw_key}"},
        }
    return result


def _wiring(assembled: Any) -> list[dict[str, Any]]:
    """What the dependency resolver wired: step.dependency <- upstream.output (score)."""
    wiring = []
    for step, resolutions in assembled.resolutions.items():
        for res in resolutions:
            if res.chosen is not None:
                wiring.append(
                    {
                        "step": step,
                        "dependency": res.dependency.logical_name,
                        "from_step": res.chosen.step_name,
                        "from_output": res.chosen.output.logical_name,
                        "score": round(res.chosen.score.total, 3),
                    }
                )
    return wiring


def _wiring_lines(assembled: Any) -> list[str]:
    return [
        f"   [dim]{w['step']}.{w['dependency']} <- {w['from_step']}.{w['from_output']} "
        f"({w['score']:.2f})[/]"
        for w in _wiring(assembled)
    ]


def _quiet(line: str) -> None:
    """Log sink of the demo: job logs stay in the workspace's log files only."""


class _Narrator:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def step(self, text: str) -> None:
        if self.enabled:
            err_console.print(f"[bold blue]::[/] {text}")

    def line(self, text: str) -> None:
        if self.enabled:
            err_console.print(text)


def _create_or_update(sm: Any, config: Any, definition: str) -> None:
    request = {
        "PipelineName": config.pipeline_name,
        "PipelineDefinition": definition,
        "RoleArn": config.role_arn,
        "PipelineDescription": "BSM demo pipeline assembled by smsim from step specs",
    }
    try:
        sm.create_pipeline(**request)
    except SmsimError:
        request.pop("PipelineDescription")
        sm.update_pipeline(**request)


def _describe_step(sm: Any, step: dict[str, Any]) -> dict[str, Any] | None:
    """The Describe* response behind a step (its property paths resolve against it).

    Step metadata carries ARNs, which SageMaker lowercases, while names keep their
    case; so the name is found by listing and matching the ARN, as with boto3.
    """
    meta = step.get("Metadata") or {}
    try:
        if "TrainingJob" in meta:
            name = _name_of(sm.list_training_jobs, "TrainingJob", meta["TrainingJob"]["Arn"])
            return sm.describe_training_job(TrainingJobName=name) if name else None
        if "ProcessingJob" in meta:
            name = _name_of(sm.list_processing_jobs, "ProcessingJob", meta["ProcessingJob"]["Arn"])
            return sm.describe_processing_job(ProcessingJobName=name) if name else None
        if "Model" in meta:
            name = _name_of(sm.list_models, "Model", meta["Model"]["Arn"])
            return sm.describe_model(ModelName=name) if name else None
        if "RegisterModel" in meta:
            return sm.describe_model_package(ModelPackageName=meta["RegisterModel"]["Arn"])
    except Exception:  # a step without a describable resource has no property values
        return None
    return None


def _name_of(list_call: Any, kind: str, arn: str) -> str | None:
    """Name of the resource whose ``<kind>Arn`` is ``arn`` (compared case-insensitively)."""
    items_key = {"Model": "Models"}.get(kind, f"{kind}Summaries")
    token = None
    while True:
        page = list_call(**({"NextToken": token} if token else {}))
        for item in page.get(items_key, []):
            if item.get(f"{kind}Arn", "").lower() == arn.lower():
                return item.get(f"{kind}Name")
        token = page.get("NextToken")
        if not token:
            return None


def _evaluation_report(sm: Any, description: dict[str, Any] | None, gate: Any) -> Any:
    """evaluation.json of the evaluation step (what the Condition step compared)."""
    if not description:
        return None
    for out in description.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if out.get("OutputName") == gate.output_name:
            uri = out["S3Output"]["S3Uri"].rstrip("/") + "/" + gate.file_path
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            try:
                return json.loads(sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except Exception:
                return None
    return None


def _execution_dir(sm: Any, arn: str) -> str | None:
    try:
        path = sm.pipelines.execution_dir(arn)
    except Exception:
        return None
    return str(path) if path else None
