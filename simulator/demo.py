"""The BSM demo: synthetic data → an assembled pipeline → a local execution → its result.

In order, inside one workspace:

1. synthesize raw BSM data (:mod:`simulator.datasets`) and upload it to the embedded S3;
2. assemble the ``bsm`` DAG (specs + contracts + config → a SageMaker pipeline
   definition) and upload the step code where the definition says it is;
3. ``CreatePipeline`` + ``StartPipelineExecution`` on the local SageMaker, followed to
   its end while the steps run as real subprocesses;
4. every step's summary (:mod:`simulator.demo_steps`) and every spec output resolved
   through its property path against the step's Describe* response
   (:mod:`simulator.outputs`) — the values SageMaker would give a downstream ``Get``.

`smsim demo` is this plus options and rendering; ``--json`` prints the result as is.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.demo_steps import (
    describe_step,
    metric_values,
    processing_key_output,
    step_summary,
    transform_key_output,
    transform_scores,
)
from simulator.errors import SmsimError
from simulator.outputs import resolve_outputs
from simulator.pipeline.watch import list_steps, watch_execution

# say(text, detail): a narration line; detail lines belong to the line before them.
Narrator = Callable[[str, bool], None]
Follower = Callable[[Any, str, float], dict[str, Any]]


def _quiet(line: str) -> None:
    """Log sink of the demo: job logs stay in the workspace's log files only."""


def run_demo(
    workspace: Path,
    *,
    rows: int = 2000,
    epochs: int = 3,
    threshold: float | None = None,
    model_class: str = "multimodal_cnn",
    seed: int = 0,
    timeout: float = 1800,
    source_dir: Path | None = None,
    dag_name: str = "bsm",
    log_sink: Callable[[str], None] | None = _quiet,
    say: Narrator | None = None,
    follow: Follower | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the demo pipeline and return its result (what `smsim demo --json` prints).

    ``dag_name`` picks the DAG (``bsm``, or ``bsm-xgboost`` with the XGBoost trainer, whose
    own hyperparameters then apply: ``epochs`` and ``model_class`` are PyTorch's);
    ``source_dir`` replaces the DAG's step code; ``log_sink`` gets
    the jobs' log lines (default: none, they stay in the workspace's log files; None:
    LocalSageMaker's console sink); ``say``
    narrates; ``follow(sm, arn, timeout)`` waits for the execution (default: polls);
    ``config`` sets other PipelineConfig fields (e.g. ``tuning_max_jobs``).
    """
    from simulator.datasets import write_dataset
    from simulator.pipeline.build.assembly import assemble, dag_config, iter_steps
    from simulator.pipeline.build.config import make_config
    from simulator.pipeline.build.dags import get_dag
    from simulator.pipeline.build.step_code import upload_code
    from simulator.session import LocalSageMaker

    workspace = Path(workspace).expanduser().resolve()
    dag = get_dag(dag_name)
    overrides: dict[str, Any] = dict(config or {})
    if "hyperparameters" not in dag.config_defaults:  # the PyTorch trainer's
        hps = {"max_epochs": epochs, "model_class": model_class, "lr": 0.01}
        overrides["hyperparameters"] = hps
    if threshold is not None:
        overrides["auroc_threshold"] = threshold
    config = dag_config(dag, make_config(overrides, what="demo options"))
    tell: Narrator = say or (lambda text, detail: None)
    wait: Follower = follow or (lambda sm, arn, limit: watch_execution(sm, arn, timeout=limit))

    with LocalSageMaker(workspace=workspace, log_sink=log_sink) as sm:
        tell(f"Workspace {workspace}", False)
        data = write_dataset(workspace / "data", rows, seed=seed, split=False)
        sm.s3.create_bucket(Bucket=config.bucket)
        raw_file = Path(data["files"]["raw"])
        raw_key = config.raw_data_uri.removeprefix(f"s3://{config.bucket}/") + raw_file.name
        sm.s3.upload_file(str(raw_file), config.bucket, raw_key)
        tell(f"Synthesized {rows} BSM orders -> s3://{config.bucket}/{raw_key}", False)

        source = Path(source_dir) if source_dir else None
        assembled = assemble(dag, config, source_dir=source)
        code = upload_code(sm.s3, assembled.code, source)
        n_steps = sum(1 for _ in iter_steps(assembled.definition))
        tell(
            f"Assembled DAG {dag.name!r} into a pipeline definition of {n_steps} steps; "
            f"uploaded the step code ({len(code)} objects). Wiring by the resolver:",
            False,
        )
        wiring = _wiring(assembled)
        for w in wiring:
            tell(
                f"{w['step']}.{w['dependency']} <- {w['from_step']}.{w['from_output']} "
                f"({w['score']:.2f})",
                True,
            )
        definition_path = workspace / "pipeline_definition.json"
        definition_path.write_text(assembled.to_json() + "\n")

        _create_or_update(sm, config, assembled.to_json())
        params = []
        if "max_epochs" in config.hyperparameters:
            params.append({"Name": "MaxEpochs", "Value": str(epochs)})
        params.append({"Name": dag.gate.threshold_parameter, "Value": str(config.auroc_threshold)})
        started = sm.start_pipeline_execution(
            PipelineName=config.pipeline_name,
            PipelineExecutionDisplayName=f"demo-{int(time.time())}",
            PipelineParameters=params,
        )
        arn = started["PipelineExecutionArn"]
        execution_id = arn.rsplit("/", 1)[-1]
        tell(f"Started execution {execution_id} of pipeline {config.pipeline_name}", False)

        execution = wait(sm, arn, timeout)
        steps = sorted(list_steps(sm, arn), key=lambda s: s.get("StartTime") or 0)
        descriptions = {s["StepName"]: describe_step(sm, s) for s in steps}
        types = {s["Name"]: s["Type"] for s in iter_steps(assembled.definition)}
        evaluation = _evaluation_report(sm, descriptions.get(dag.gate.source_step), dag.gate)
        transform = _transform_result(sm, descriptions, types, evaluation)

        return {
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
                    processing_key_output(sm, s, descriptions.get(s["StepName"]), evaluation)
                    or (
                        transform_key_output(transform)
                        if types[s["StepName"]] == "Transform"
                        else None
                    ),
                )
                for s in steps
            ],
            "wiring": wiring,
            "outputs": {
                name: resolve_outputs(spec, descriptions[name], step_name=name)
                for name, spec in assembled.specs.items()
                if descriptions.get(name)
            },
            "evaluation": evaluation,
            "transform": transform,
            "auroc_threshold": config.auroc_threshold,
            "workspace": str(workspace),
            "definition_path": str(definition_path),
            "execution_dir": _execution_dir(sm, arn),
            "data": {"rows": rows, "raw_uri": f"s3://{config.bucket}/{raw_key}"},
        }


def _transform_result(
    sm: Any, descriptions: dict[str, Any], types: dict[str, str], evaluation: Any
) -> dict[str, Any] | None:
    """The test split scored by the Transform step, and its AUROC next to evaluate.py's
    on the same rows (the served model must be the evaluated one)."""
    for name, step_type in types.items():
        if step_type == "Transform":
            scores = transform_scores(sm, descriptions.get(name))
            if scores is not None:
                scores["step"] = name
                scores["evaluation_auroc"] = metric_values(evaluation).get("auroc")
            return scores
    return None


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
