"""The service's pipeline semantics on definitions the SageMaker Python SDK (v2) builds:
step caching, retry policies with injected service errors, MaxParallelExecutionSteps.

Scripts are tiny (no torch); each job takes about a second."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sagemaker = pytest.importorskip("sagemaker")  # the test-only extra

from simulator.session import LocalSageMaker  # noqa: E402
from tests.support import (  # noqa: E402
    ROLE,
    SDK_CONFIG,
    TRAINING_IMAGE,
    finish_execution,
    script_processor,
    start_execution,
)

BUCKET = "engine-bucket"
PROCESSING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny-processing:latest"
TRAIN = """
import argparse, os
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
args, _ = p.parse_known_args()
open(os.path.join(os.environ["SM_MODEL_DIR"], "lr.txt"), "w").write(str(args.lr))
print("trained with lr", args.lr)
"""
PROCESS = """
import os, sys, time
time.sleep(0.3)
if os.environ.get("FAIL") == "yes":
    sys.exit("script error: asked to fail")
os.makedirs("/opt/ml/processing/out", exist_ok=True)
open("/opt/ml/processing/out/done.txt", "w").write("ok")
"""
# Attempt 1 of step "Train" of pipeline "retried" meets a capacity error; so does the
# failing script's step, which must not be retried for it (its own error is a script's).
# Step "B" of "resumed" and step "A" of "refused" meet an internal error once, with no
# retry policy: their executions fail.
FAULTS = [
    {"kind": "CapacityError", "step": "Train", "pipeline": "retried", "attempt": 1},
    {"kind": "InternalServerError", "step": "B", "pipeline": "resumed"},
    {"kind": "InternalServerError", "step": "A", "pipeline": "refused"},
]


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    lines: list[str] = []
    ws = tmp_path_factory.mktemp("engine-ws")
    with LocalSageMaker(workspace=ws, log_sink=lines.append, faults=FAULTS) as local:
        local.s3.create_bucket(Bucket=BUCKET)
        yield local


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("code")
    (src / "train.py").write_text(TRAIN)
    (src / "process.py").write_text(PROCESS)
    return src


def session(sm: LocalSageMaker) -> Any:
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto3.Session(region_name=sm.region),
        default_bucket=BUCKET,
        sagemaker_config=SDK_CONFIG,
    )


def training_pipeline(sm: LocalSageMaker, code: Path, name: str, lr: float) -> Any:
    from sagemaker.pytorch import PyTorch
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
    )
    from sagemaker.workflow.steps import CacheConfig, TrainingStep

    sess = session(sm)
    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(code),
        role=ROLE,
        image_uri=TRAINING_IMAGE,
        instance_type="ml.m5.large",
        instance_count=1,
        hyperparameters={"lr": lr},
        sagemaker_session=sess,
    )
    step = TrainingStep(
        "Train",
        step_args=estimator.fit(),
        cache_config=CacheConfig(enable_caching=True, expire_after="P30D"),
        retry_policies=[
            SageMakerJobStepRetryPolicy(
                exception_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR],
                interval_seconds=1,
                max_attempts=2,
            )
        ],
    )
    return Pipeline(name=name, steps=[step], sagemaker_session=sess)


def processing_step(
    sm: LocalSageMaker, code: Path, name: str, inputs: list | None = None, **kwargs: Any
) -> Any:
    from sagemaker.processing import ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.steps import ProcessingStep

    processor = script_processor(
        ScriptProcessor,
        session(sm),
        PROCESSING_IMAGE,
        "ml.m5.large",
        env={"FAIL": kwargs.pop("fail", "no")},
    )
    args = processor.run(
        code=str(code / "process.py"),
        inputs=inputs,
        outputs=[ProcessingOutput(output_name="out", source="/opt/ml/processing/out")],
    )
    return ProcessingStep(name, step_args=args, **kwargs)


def run(sm: LocalSageMaker, pipeline: Any, **start: Any) -> tuple[dict, dict[str, dict]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.upsert(role_arn=ROLE)
    return finish_execution(sm, start_execution(sm, pipeline.name, {}, **start), timeout=300)


def test_a_second_execution_hits_the_cache_and_a_changed_hyperparameter_misses(
    sm: LocalSageMaker, code: Path
) -> None:
    first, steps1 = run(sm, training_pipeline(sm, code, "cached", lr=0.1))
    assert first["PipelineExecutionStatus"] == "Succeeded"
    assert "CacheHitResult" not in steps1["Train"]
    jobs_before = len(sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"])

    second, steps2 = run(sm, training_pipeline(sm, code, "cached", lr=0.1))
    assert second["PipelineExecutionStatus"] == "Succeeded"
    hit = steps2["Train"]
    assert hit["CacheHitResult"] == {"SourcePipelineExecutionArn": first["PipelineExecutionArn"]}
    # No job ran: the step's properties are the source run's job.
    assert hit["Metadata"] == steps1["Train"]["Metadata"]
    assert len(sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]) == jobs_before
    record = sm.pipelines.execution_record(second["PipelineExecutionArn"])
    assert record.steps["Train"].description["HyperParameters"]["lr"] == "0.1"

    third, steps3 = run(sm, training_pipeline(sm, code, "cached", lr=0.2))
    assert third["PipelineExecutionStatus"] == "Succeeded"
    assert "CacheHitResult" not in steps3["Train"]
    assert steps3["Train"]["Metadata"] != steps1["Train"]["Metadata"]


def test_a_failed_run_is_never_reused(sm: LocalSageMaker, code: Path) -> None:
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig

    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    step = processing_step(sm, code, "Flaky", fail="yes", cache_config=cache)
    pipeline = Pipeline(name="never-reused", steps=[step], sagemaker_session=session(sm))
    first, _ = run(sm, pipeline)
    assert first["PipelineExecutionStatus"] == "Failed"
    second, steps = run(sm, pipeline)
    assert second["PipelineExecutionStatus"] == "Failed"
    assert "CacheHitResult" not in steps["Flaky"]
    assert "AlgorithmError" in steps["Flaky"]["FailureReason"]


def test_an_injected_capacity_error_is_retried(sm: LocalSageMaker, code: Path) -> None:
    desc, steps = run(sm, training_pipeline(sm, code, "retried", lr=0.3))
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Train"]["StepStatus"] == "Succeeded"
    assert steps["Train"]["AttemptCount"] == 2


def test_a_script_error_is_not_retried(sm: LocalSageMaker, code: Path) -> None:
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )

    policies = [
        SageMakerJobStepRetryPolicy(
            exception_types=list(SageMakerJobExceptionTypeEnum), max_attempts=3
        ),
        StepRetryPolicy(exception_types=list(StepExceptionTypeEnum), max_attempts=3),
    ]
    step = processing_step(sm, code, "Broken", fail="yes", retry_policies=policies)
    pipeline = Pipeline(name="not-retried", steps=[step], sagemaker_session=session(sm))
    desc, steps = run(sm, pipeline)
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert steps["Broken"]["AttemptCount"] == 1
    assert "AlgorithmError" in steps["Broken"]["FailureReason"]


def test_max_parallel_execution_steps_2_over_6_independent_steps(
    sm: LocalSageMaker, code: Path
) -> None:
    from sagemaker.workflow.parallelism_config import ParallelismConfiguration
    from sagemaker.workflow.pipeline import Pipeline

    steps_ = [processing_step(sm, code, f"P{i}") for i in range(6)]
    pipeline = Pipeline(name="limited", steps=steps_, sagemaker_session=session(sm))
    desc, steps = run(
        sm, pipeline, ParallelismConfiguration=ParallelismConfiguration(2).to_request()
    )
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert len(steps) == 6
    # From the recorded times: at every step's start, how many steps were running.
    spans = [(s["StartTime"], s["EndTime"]) for s in steps.values()]
    most = max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)
    assert most == 2


def two_step_pipeline(sm: LocalSageMaker, code: Path, name: str) -> Any:
    """A → B, B reading A's output location (a property reference)."""
    from sagemaker.processing import ProcessingInput
    from sagemaker.workflow.pipeline import Pipeline

    a = processing_step(sm, code, "A")
    out = a.properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri
    b = processing_step(
        sm, code, "B", inputs=[ProcessingInput(source=out, destination="/opt/ml/processing/in")]
    )
    return Pipeline(name=name, steps=[a, b], sagemaker_session=session(sm))


def failed_two_step_run(sm: LocalSageMaker, code: Path, name: str) -> tuple[Any, dict, dict]:
    """The two-step pipeline ``name`` and its first execution, which failed at B."""
    pipeline = two_step_pipeline(sm, code, name)
    failed, steps = run(sm, pipeline)
    assert failed["PipelineExecutionStatus"] == "Failed"
    return pipeline, failed, steps


def test_retry_pipeline_execution_resumes_from_the_failed_step(
    sm: LocalSageMaker, code: Path
) -> None:
    from sagemaker.workflow.selective_execution_config import SelectiveExecutionConfig

    pipeline, failed, steps = failed_two_step_run(sm, code, "resumed")
    assert "InternalServerError" in steps["B"]["FailureReason"]
    arn = failed["PipelineExecutionArn"]

    assert sm.retry_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionArn"] == arn
    desc, resumed = finish_execution(sm, arn, timeout=300)
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert resumed["A"]["Metadata"] == steps["A"]["Metadata"]  # A did not run again
    assert resumed["B"]["StepStatus"] == "Succeeded"

    # Selective execution of B alone: A's properties come from the source execution.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        execution = pipeline.start(
            selective_execution_config=SelectiveExecutionConfig(
                source_pipeline_execution_arn=arn, selected_steps=["B"]
            )
        )
    desc = sm.wait_for_pipeline_execution(execution.arn, timeout=300)
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert desc["SelectiveExecutionConfig"]["SourcePipelineExecutionArn"] == arn
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=execution.arn)
    only = listed["PipelineExecutionSteps"]
    assert [s["StepName"] for s in only] == ["B"]
    b_job = only[0]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    b_desc = next(d for n, d in sm.stored_descriptions("processing").items() if n.lower() == b_job)
    a_job = steps["A"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1]
    source_uri = next(
        i["S3Input"]["S3Uri"]
        for i in b_desc["ProcessingInputs"]
        if i["S3Input"]["LocalPath"] == "/opt/ml/processing/in"
    )
    a_desc = next(d for n, d in sm.stored_descriptions("processing").items() if n.lower() == a_job)
    assert source_uri == a_desc["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]


def test_selective_execution_is_refused_when_an_upstream_step_did_not_succeed(
    sm: LocalSageMaker, code: Path
) -> None:
    _, failed, _ = failed_two_step_run(sm, code, "refused")
    with pytest.raises(sm.exceptions.ClientError) as err:
        sm.start_pipeline_execution(
            PipelineName="refused",
            SelectiveExecutionConfig={
                "SourcePipelineExecutionArn": failed["PipelineExecutionArn"],
                "SelectedSteps": [{"StepName": "B"}],
            },
        )
    message = str(err.value)
    assert "ValidationException" in message and "'A'" in message
