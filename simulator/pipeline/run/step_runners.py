"""How each type of pipeline step runs, once it is scheduled.

Job steps go through the endpoint's backend (the same handlers a client's requests
reach) exactly as the service's workflow engine calls SageMaker:
``create_training_job`` / ``create_processing_job`` (and tuning, transform) with the
evaluated Arguments plus a generated job name, then the job's description is polled until
it ends; the step keeps a reference to the job's record. Model and RegisterModel steps call
``create_model`` / ``create_model_package`` (moto) and describe the result. A Condition step
enables one branch and skips the other; a Fail step ends the execution with its message.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

from simulator.faults import InjectedServiceError
from simulator.pipeline.run import callback, lambda_step
from simulator.pipeline.run.cache import reuse_cached
from simulator.pipeline.run.conditions import evaluate_conditions
from simulator.pipeline.run.definition import BRANCHES, Step
from simulator.pipeline.run.expressions import ExpressionError, evaluate
from simulator.pipeline.run.records import StepRecord, job_name
from simulator.pipeline.run.retry import type_of_job_failure
from simulator.pipeline.run.step_context import StepContext
from simulator.pipeline.run.step_failed import StepFailed

# Job statuses that end a wait, and the step status each one gives.
_TERMINAL_JOB_STATUS = {"Completed": "Succeeded", "Failed": "Failed", "Stopped": "Stopped"}


class StepRunners:
    """The per-step-type runners of :class:`~simulator.pipeline.run.executor.PipelineExecutor`."""

    def _evaluate(self, step: Step, current_job: str | None = None) -> Any:
        ctx = StepContext(self, step, current_job)
        return evaluate(step.job_arguments, ctx)

    def _run_training(self, step: Step, rec: StepRecord) -> None:
        name = self._job_name(step, "TrainingJobName")
        request = dict(self._evaluate(step, name))
        request["TrainingJobName"] = name
        if self._reuse_cached(step, rec, request):
            return
        rec.job_name, rec.arguments = name, request
        self._inject(step, rec, name, "CreateTrainingJob")
        resp = self.sm.create_training_job(**request)
        rec.job = self.sm.job_record("training", name)  # the step refers to its job's record
        self._set_metadata(rec, "TrainingJob", resp["TrainingJobArn"])
        desc = self._wait(
            lambda: self.sm.describe_training_job(TrainingJobName=name),
            lambda: self.sm.stop_training_job(TrainingJobName=name),
            "TrainingJobStatus",
        )
        self._finish_job(rec, desc, "TrainingJobStatus")

    def _run_processing(self, step: Step, rec: StepRecord) -> None:
        name = self._job_name(step, "ProcessingJobName")
        request = dict(self._evaluate(step, name))
        request["ProcessingJobName"] = name
        if self._reuse_cached(step, rec, request):
            return
        rec.job_name, rec.arguments = name, request
        self._inject(step, rec, name, "CreateProcessingJob")
        resp = self.sm.create_processing_job(**request)
        rec.job = self.sm.job_record("processing", name)
        self._set_metadata(rec, "ProcessingJob", resp["ProcessingJobArn"])
        desc = self._wait(
            lambda: self.sm.describe_processing_job(ProcessingJobName=name),
            lambda: self.sm.stop_processing_job(ProcessingJobName=name),
            "ProcessingJobStatus",
        )
        self._finish_job(rec, desc, "ProcessingJobStatus")
        self._read_property_files(step, desc)

    def _run_tuning(self, step: Step, rec: StepRecord) -> None:
        """A TuningStep (#16): its properties are the tuning job's description plus the
        top 50 TrainingJobSummaries, best first (the SDK's ``get_top_model_s3_uri(0)``)."""
        given = step.arguments.get("HyperParameterTuningJobName")
        prefix = given if isinstance(given, str) else f"{self.record.execution_id}-{step.name}"
        # Tuning job names have at most 32 characters.
        name = job_name(self.record.execution_id, step.name, max_len=32, prefix=prefix)
        request = dict(self._evaluate(step))
        request["HyperParameterTuningJobName"] = name
        rec.job_name, rec.arguments = name, request
        resp = self.sm.create_hyper_parameter_tuning_job(**request)
        self._set_metadata(rec, "TuningJob", resp["HyperParameterTuningJobArn"])
        desc = self._wait(
            lambda: self.sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
            lambda: self.sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
            "HyperParameterTuningJobStatus",
        )
        top = self.sm.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            SortBy="FinalObjectiveMetricValue",
            SortOrder="Descending",
            MaxResults=50,
        )
        desc["TrainingJobSummaries"] = top["TrainingJobSummaries"]
        rec.description = _strip(desc)
        self._finish_job(rec, desc, "HyperParameterTuningJobStatus")

    def _run_transform(self, step: Step, rec: StepRecord) -> None:
        # A TransformStep runs CreateTransformJob (#15); its properties are the
        # DescribeTransformJob response (properties.TransformOutput.S3OutputPath, …).
        name = self._job_name(step, "TransformJobName")
        request = dict(self._evaluate(step, name))
        request["TransformJobName"] = name
        rec.job_name, rec.arguments = name, request
        resp = self.sm.create_transform_job(**request)
        rec.job = self.sm.job_record("transform", name)
        self._set_metadata(rec, "TransformJob", resp["TransformJobArn"])
        desc = self._wait(
            lambda: self.sm.describe_transform_job(TransformJobName=name),
            lambda: self.sm.stop_transform_job(TransformJobName=name),
            "TransformJobStatus",
        )
        self._finish_job(rec, desc, "TransformJobStatus")

    def _run_model(self, step: Step, rec: StepRecord) -> None:
        name = job_name(self.record.execution_id, step.name)
        request = dict(self._evaluate(step))
        request.setdefault("ModelName", name)
        rec.job_name, rec.arguments = request["ModelName"], request
        resp = self.sm.create_model(**request)
        self._set_metadata(rec, "Model", resp["ModelArn"])
        rec.description = _strip(self.sm.describe_model(ModelName=request["ModelName"]))

    def _run_registermodel(self, step: Step, rec: StepRecord) -> None:
        request = dict(self._evaluate(step))
        rec.arguments = request
        group = request.get("ModelPackageGroupName")
        if isinstance(group, str) and not group.startswith("arn:"):
            self._ensure_model_package_group(group)
        resp = self.sm.create_model_package(**request)
        arn = resp["ModelPackageArn"]
        self._set_metadata(rec, "RegisterModel", arn)
        rec.description = _strip(self.sm.describe_model_package(ModelPackageName=arn))

    def _run_condition(self, step: Step, rec: StepRecord) -> None:
        ctx = StepContext(self, step, None)
        conditions = step.arguments.get("Conditions", [])
        outcome = evaluate_conditions(conditions, lambda v: evaluate(v, ctx))
        taken = "IfSteps" if outcome else "ElseSteps"
        with self.record.lock:
            rec.metadata = {"Condition": {"Outcome": "True" if outcome else "False"}}
            # The branch not taken never runs (SageMaker does not list its steps).
            for branch in BRANCHES:
                if branch != taken:
                    self._skipped.update(
                        self.record.definition.branch_descendants(step.name, branch)
                    )

    def _run_lambda(self, step: Step, rec: StepRecord) -> None:
        lambda_step.run_step(self, step, rec)

    def _run_callback(self, step: Step, rec: StepRecord) -> None:
        callback.run_step(self, step, rec)

    def _run_fail(self, step: Step, rec: StepRecord) -> None:
        ctx = StepContext(self, step, None)
        message = evaluate(step.arguments.get("ErrorMessage", ""), ctx)
        message = message if isinstance(message, str) else json.dumps(message)
        with self.record.lock:
            rec.metadata = {"Fail": {"ErrorMessage": message}}
        # A Fail step ends the execution as Failed with its message (SageMaker FailStep).
        raise StepFailed(message or "Fail step reached")

    # ----------------------------------------------------------------- caching, faults

    def _reuse_cached(self, step: Step, rec: StepRecord, request: dict[str, Any]) -> bool:
        return reuse_cached(self, step, rec, request)

    def _inject(self, step: Step, rec: StepRecord, name: str, operation: str) -> None:
        """A planned service error for this attempt of the step (simulator.faults)."""
        fault = self.faults.for_step(self.record.pipeline_name, step.name, rec.attempts)
        if fault is None:
            return
        if fault.strikes == "run":  # a Spot interruption, throttled S3: the job's to meet
            self.faults.hand_to_job(fault, name)
            return
        if fault.strikes == "create":
            raise InjectedServiceError(fault.kind, fault.message, operation)
        # The job fails while its instances are provisioned, before any script runs.
        raise StepFailed(
            f"{name} failed: {fault.message}", exception_type=(type_of_job_failure(fault.message))
        )

    # ----------------------------------------------------------------- helpers

    def _job_name(self, step: Step, member: str) -> str:
        given = step.arguments.get(member)
        prefix = given if isinstance(given, str) else ""
        return job_name(self.record.execution_id, step.name, prefix=prefix)

    def _set_metadata(self, rec: StepRecord, key: str, arn: str) -> None:
        with self.record.lock:
            rec.metadata = {key: {"Arn": arn}}
            self.record.changed()

    def _wait(
        self, describe: Callable[[], Any], stop: Callable[[], Any], status_key: str
    ) -> dict[str, Any]:
        stop_sent = False
        while True:
            desc = _strip(describe())
            if desc.get(status_key) in _TERMINAL_JOB_STATUS:
                return desc
            if self.record.stop_requested.is_set() and not stop_sent:
                stop_sent = True
                # The job may have ended between the describe and the stop.
                with contextlib.suppress(Exception):
                    stop()
            time.sleep(self.poll_interval)

    def _finish_job(self, rec: StepRecord, desc: dict[str, Any], status_key: str) -> None:
        status = _TERMINAL_JOB_STATUS[desc[status_key]]
        if status == "Failed":
            reason = desc.get("FailureReason") or desc.get("ExitMessage") or "job failed"
            raise StepFailed(
                f"{desc.get(status_key.replace('Status', 'Name'), '')} failed: {reason}".strip(),
                exception_type=type_of_job_failure(desc.get("FailureReason")),
            )
        if status == "Stopped":
            raise StepFailed("job stopped", status="Stopped")

    def _read_property_files(self, step: Step, desc: dict[str, Any]) -> None:
        """Read each PropertyFile from the finished job's output in S3 (SageMaker fails the
        step when one is missing or not JSON)."""
        outputs = (desc.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        for pf in step.property_files:
            output = next((o for o in outputs if o.get("OutputName") == pf.output_name), None)
            if output is None:
                names = [o.get("OutputName") for o in outputs]
                raise StepFailed(
                    f"PropertyFile {pf.name!r} names output {pf.output_name!r}, which the job "
                    f"does not have; its outputs: {names}"
                )
            uri = output["S3Output"]["S3Uri"].rstrip("/") + "/" + pf.file_path.lstrip("/")
            try:
                document = self.read_json(uri)
            except (ExpressionError, json.JSONDecodeError) as exc:
                raise StepFailed(f"PropertyFile {pf.name!r}: {exc}") from None
            with self.record.lock:
                self.record.property_files.setdefault(step.name, {})[pf.name] = document

    def read_json(self, uri: str) -> Any:
        bucket, _, key = uri[len("s3://") :].partition("/")
        try:
            body = self.sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:
            raise ExpressionError(f"cannot read {uri}: {exc}") from None
        try:
            return json.loads(body)
        except json.JSONDecodeError as exc:
            raise ExpressionError(f"{uri} is not JSON: {exc}") from None

    def _ensure_model_package_group(self, group: str) -> None:
        # SageMaker Pipelines creates the model package group of a RegisterModel step
        # when it does not exist yet.
        try:
            self.sm.describe_model_package_group(ModelPackageGroupName=group)
        except Exception:
            self.sm.create_model_package_group(ModelPackageGroupName=group)


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    """A boto3 response without its ResponseMetadata (not part of the API shape)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}
