"""What each step of a demo execution did: its summary, its Describe* response, its log.

A step's summary holds its status, duration, log and one short ``key_output`` line (an
80-column table cell: the model artifact and validation AUROC of a training step, what
a processing step wrote, a condition's outcome, a registered package's version); the
full values are in the result's resolved ``outputs``.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from simulator.pipeline.watch import first_line, step_duration


def step_summary(
    step: dict[str, Any],
    description: dict[str, Any] | None,
    workspace: Path,
    step_type: str,
    processing_output: str | None = None,
) -> dict[str, Any]:
    """One step of the demo's result: status, duration, what it produced, its log."""
    return {
        "name": step["StepName"],
        "type": step_type,
        "status": step["StepStatus"],
        "duration_seconds": step_duration(step),
        "key_output": processing_output or key_output(step, description),
        "failure_reason": step.get("FailureReason"),
        "metadata": step.get("Metadata") or {},
        "log": log_path(workspace, description),
        "attempts": step.get("AttemptCount", 1),
        "cache_hit_source": (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn"),
    }


def describe_step(sm: Any, step: dict[str, Any]) -> dict[str, Any] | None:
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
        if "TransformJob" in meta:
            name = _name_of(sm.list_transform_jobs, "TransformJob", meta["TransformJob"]["Arn"])
            return sm.describe_transform_job(TransformJobName=name) if name else None
        if "TuningJob" in meta:
            return _tuning_properties(sm, meta["TuningJob"]["Arn"])
    except Exception:  # a step without a describable resource has no property values
        return None
    return None


def _tuning_properties(sm: Any, arn: str) -> dict[str, Any] | None:
    """A Tuning step's properties as the SDK's TuningStep defines them: the tuning job's
    description plus its TrainingJobSummaries, best first."""
    name = _name_of(sm.list_hyper_parameter_tuning_jobs, "HyperParameterTuningJob", arn)
    if not name:
        return None
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    desc["TrainingJobSummaries"] = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
        MaxResults=50,
    )["TrainingJobSummaries"]
    return desc


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


def log_path(workspace: Path, description: dict[str, Any] | None) -> str | None:
    """The job's combined log in the workspace (processing or training), if it exists."""
    from simulator.jobs.records import job_dir

    if not description:
        return None
    kinds = (
        ("ProcessingJobName", "processing"),
        ("TrainingJobName", "training"),
        ("TransformJobName", "transform"),
    )
    for key, kind in kinds:
        if key in description:
            logs = job_dir(workspace, kind, description[key]) / "logs"
            found = sorted(logs.glob("*.log")) if logs.is_dir() else []
            main = [p for p in found if not p.name.endswith(".stderr.log")] or found
            return str(main[0]) if main else None
    return None


def processing_key_output(
    sm: Any, step: dict[str, Any], description: dict[str, Any] | None, evaluation: Any
) -> str | None:
    """What a successful processing step wrote: the first level under each output."""
    if step.get("StepStatus") != "Succeeded" or not description:
        return None
    if "ProcessingJob" not in (step.get("Metadata") or {}):
        return None
    auroc = metric_values(evaluation).get("auroc")
    outputs = description.get("ProcessingOutputConfig", {}).get("Outputs", [])
    parts = []
    for out in outputs:
        bucket, _, key = out["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        prefix = key.rstrip("/") + "/"
        try:
            page = sm.s3.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        except Exception:
            continue
        names = [p["Prefix"][len(prefix) :] for p in page.get("CommonPrefixes", [])]
        names += [o["Key"][len(prefix) :] for o in page.get("Contents", [])]
        # Short enough for an 80-column table: the metric the gate reads, else the
        # names of a lone output's few entries, else a count (full URIs are in "outputs").
        if "evaluation.json" in names and auroc is not None:
            text = f"test AUROC {auroc:.3f}"
        elif len(names) <= 3 and len(outputs) == 1:
            text = " ".join(sorted(names)) or "(empty)"
        else:
            text = f"{len(names)} files"
        parts.append(f"{out['OutputName']}: {text}" if len(outputs) > 1 else text)
    return "; ".join(parts) or None


def key_output(step: dict[str, Any], description: dict[str, Any] | None) -> str:
    """One short line saying what the step produced (full values are in ``outputs``)."""
    meta = step.get("Metadata") or {}
    if step.get("FailureReason"):
        # "<job name> failed: <reason>": the job name is in the metadata already.
        return first_line(re.sub(r"^\S+ failed: ", "", step["FailureReason"]))
    if "Condition" in meta:
        return f"outcome {meta['Condition'].get('Outcome')}"
    if "Fail" in meta:
        return meta["Fail"].get("ErrorMessage", "")
    if not description:
        return ""
    if "TrainingJob" in meta:
        metrics = {m["MetricName"]: m["Value"] for m in description.get("FinalMetricDataList", [])}
        artifact = description.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        text = artifact.rsplit("/", 1)[-1]
        if "val:auroc" in metrics:
            text = f"val AUROC {metrics['val:auroc']:.3f}, {text}"
        return text
    if "ProcessingJob" in meta:
        outs = description.get("ProcessingOutputConfig", {}).get("Outputs", [])
        return ", ".join(o["OutputName"] for o in outs) + (" -> S3" if outs else "")
    if "Model" in meta:
        return description.get("ModelName", "")
    if "TransformJob" in meta:
        return description.get("TransformOutput", {}).get("S3OutputPath", "")
    if "TuningJob" in meta:
        best = description.get("BestTrainingJob") or {}
        objective = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        jobs = len(description.get("TrainingJobSummaries", []))
        if not objective:
            return f"{jobs} training jobs"
        return f"best {objective['MetricName']} {objective['Value']:.3f} of {jobs} jobs"
    if "RegisterModel" in meta:
        return (
            f"{description.get('ModelPackageGroupName', 'package')} "
            f"v{description.get('ModelPackageVersion', '?')} "
            f"({description.get('ModelApprovalStatus', '')})"
        )
    return ""


def metric_values(evaluation: Any) -> dict[str, float]:
    """``{"auroc": 0.91, …}`` from an evaluation.json ``{"metrics": {"auroc": {"value"…}}}``."""
    metrics = evaluation.get("metrics", {}) if isinstance(evaluation, dict) else {}
    return {
        name: float(m["value"])
        for name, m in metrics.items()
        if isinstance(m, dict) and isinstance(m.get("value"), int | float)
    }


def transform_scores(sm: Any, description: dict[str, Any] | None) -> dict[str, Any] | None:
    """The AUROC of a transform job's output lines ``<label>,<positive-class probability>``
    (the BSM Transform step's OutputFilter keeps those two fields of each joined record),
    over every ``.out`` object of its S3OutputPath; scikit-learn computes it as
    evaluate.py does."""
    from sklearn.metrics import roc_auc_score

    if not description or description.get("TransformJobStatus") != "Completed":
        return None
    uri = description["TransformOutput"]["S3OutputPath"]
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    labels: list[float] = []
    scores: list[float] = []
    pages = sm.s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix.rstrip("/") + "/"
    )
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    for key in sorted(k for k in keys if k.endswith(".out")):
        body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        for row in csv.reader(io.StringIO(body)):
            if row:
                labels.append(float(row[0]))
                scores.append(float(row[-1]))
    if len(set(labels)) < 2:
        return {"output_uri": uri, "records": len(labels), "auroc": None}
    return {
        "output_uri": uri,
        "records": len(labels),
        "auroc": float(roc_auc_score(labels, scores)),
    }


def transform_key_output(scores: dict[str, Any] | None) -> str | None:
    """``test AUROC 0.924, 300 records``: what the scored transform output says."""
    if not scores or scores.get("auroc") is None:
        return None
    return f"test AUROC {scores['auroc']:.3f}, {scores['records']} records"
