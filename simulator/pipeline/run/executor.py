"""Run one pipeline execution: steps in dependency order, independent steps in parallel.

The rules are SageMaker Pipelines': a step starts when every step it depends on has
succeeded; a Condition step enables one branch, and the other branch's steps (and
anything that needs them) never run and are not listed; when a step fails, steps
already running finish, no new step starts, and the execution fails with that step's
reason. What finished steps uploaded to S3 stays there.

Job steps go through the endpoint's backend (the same handlers a client's requests
reach) exactly as the service's workflow engine calls SageMaker:
``create_training_job`` / ``create_processing_job`` with the evaluated Arguments plus
a generated job name, then the job's description is polled until it ends; the step
keeps a reference to the job's record. Model and RegisterModel steps call
``create_model`` / ``create_model_package`` (moto) and describe the result. Later
``Get`` references resolve against those descriptions (``simulator.properties``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from simulator.errors import PropertyPathError, SmsimError
from simulator.faults import FaultPlan, InjectedServiceError
from simulator.pipeline.run import callback, lambda_step
from simulator.pipeline.run.cache import reuse_cached
from simulator.pipeline.run.callback import CallbackRegistry
from simulator.pipeline.run.conditions import evaluate_conditions
from simulator.pipeline.run.definition import BRANCHES, Step
from simulator.pipeline.run.expressions import ExpressionError, evaluate
from simulator.pipeline.run.records import ExecutionRecord, StepRecord, job_name, utcnow
from simulator.pipeline.run.retry import RetryState, type_of_client_error, type_of_job_failure
from simulator.pipeline.run.step_failed import StepFailed
from simulator.properties import resolve_property_path

# Job statuses that end a wait, and the step status each one gives.
_TERMINAL_JOB_STATUS = {"Completed": "Succeeded", "Failed": "Failed", "Stopped": "Stopped"}
_MAX_STEP_FAILURE = 1024  # botocore FailureReason max length
_MAX_EXECUTION_FAILURE = 1300  # botocore PipelineExecutionFailureReason max length
_UNFINISHED_STEP_STATUS = ("Starting", "Executing", "Stopping")
_OUTPUT_PARAMETER = re.compile(r"""OutputParameters\[['"]([^'"]+)['"]\]""")


class PipelineExecutor:
    """Runs one ExecutionRecord's definition to its end (call :meth:`run` in a thread)."""

    def __init__(
        self,
        sm: Any,
        record: ExecutionRecord,
        *,
        poll_interval: float = 0.1,
        history: Callable[[], list[ExecutionRecord]] | None = None,
        faults: FaultPlan | None = None,
        callbacks: CallbackRegistry | None = None,
    ) -> None:
        self.sm = sm
        self.record = record
        self.poll_interval = poll_interval
        # The pipeline's executions, where a cached step finds the run it reuses.
        self.history = history
        self.faults = faults or FaultPlan()
        self.callbacks = callbacks or CallbackRegistry()
        self._skipped: set[str] = set()
        self._order = record.definition.topological_order()
        self._deps = {name: record.definition.dependencies(name) for name in self._order}
        # SelectiveExecutionConfig: only these steps run; the others' results are borrowed
        # from the source execution (record.borrowed).
        self._selected = record.selected_steps
        # A resumed execution (RetryPipelineExecution): the branches its finished
        # conditions did not take stay skipped.
        for rec in record.steps.values():
            outcome = (rec.metadata.get("Condition") or {}).get("Outcome")
            if rec.status == "Succeeded" and outcome in ("True", "False"):
                taken = "IfSteps" if outcome == "True" else "ElseSteps"
                for branch in BRANCHES:
                    if branch != taken:
                        self._skipped.update(record.definition.branch_descendants(rec.name, branch))

    # ----------------------------------------------------------------- scheduling

    def run(self) -> None:
        record = self.record
        try:
            self._schedule()
        except Exception as exc:  # an engine bug must still end the execution, with its reason
            with record.lock:
                record.status = "Failed"
                record.failure_reason = f"smsim executor error: {type(exc).__name__}: {exc}"[
                    :_MAX_EXECUTION_FAILURE
                ]
        finally:
            try:
                with record.lock:
                    # A step an engine error left unfinished must not stay Executing.
                    for rec in record.steps.values():
                        if rec.status in _UNFINISHED_STEP_STATUS:
                            rec.status, rec.end_time = "Failed", utcnow()
                            rec.failure_reason = rec.failure_reason or record.failure_reason
                    if record.status in ("Executing", "Stopping"):
                        record.status, record.failure_reason = self._final_status()
                    record.changed()
            finally:
                # Waiters must wake even when the last record cannot be written.
                record.done.set()

    def _schedule(self) -> None:
        record = self.record
        workers = max(1, min(record.parallelism, len(self._order)))
        queued: list[str] = []  # ready, listed Starting, waiting for a free slot
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smsim-step") as pool:
            running: dict[Future[None], str] = {}
            while True:
                with record.lock:
                    halted = record.stop_requested.is_set() or any(
                        s.status in ("Failed", "Stopped") for s in record.steps.values()
                    )
                    if halted:
                        # Queued steps never start: they leave the listing as on the service.
                        for name in queued:
                            record.steps.pop(name, None)
                        queued.clear()
                    added = [] if halted else self._ready_steps(set(running.values()))
                    for name in added:
                        step = record.definition.steps[name]
                        record.steps[name] = StepRecord(
                            name=name,
                            type=step.type,
                            display_name=step.display_name,
                            step_description=step.description,
                        )
                        queued.append(name)
                    # MaxParallelExecutionSteps: a step starts only when a slot is free.
                    launch = queued[: max(0, workers - len(running))]
                    del queued[: len(launch)]
                    if launch or added or halted:
                        record.changed()
                for name in launch:
                    running[pool.submit(self._run_step, name)] = name
                if not running:
                    return
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    running.pop(fut)
                    fut.result()  # an engine error in a step thread ends the execution

    def _ready_steps(self, running: set[str]) -> list[str]:
        """Steps whose dependencies all succeeded; marks steps that can never run skipped."""
        steps = self.record.steps
        changed = True
        while changed:  # skipping propagates along the DAG
            changed = False
            for name in self._order:
                if name in steps or name in self._skipped:
                    continue
                if any(d in self._skipped for d in self._deps[name]):
                    self._skipped.add(name)
                    changed = True
        ready = []
        borrowed = self.record.borrowed
        for name in self._order:
            if name in steps or name in self._skipped or name in running:
                continue
            if self._selected is not None and name not in self._selected:
                continue
            deps = self._deps[name]
            if all((d in steps and steps[d].status == "Succeeded") or d in borrowed for d in deps):
                ready.append(name)
        return ready

    def _final_status(self) -> tuple[str, str | None]:
        failed = [s for s in self.record.steps.values() if s.status == "Failed"]
        if failed:
            reasons = "; ".join(f"step {s.name!r} failed: {s.failure_reason}" for s in failed)
            return "Failed", f"Step failure: {reasons}"[:_MAX_EXECUTION_FAILURE]
        if self.record.stop_requested.is_set() or any(
            s.status == "Stopped" for s in self.record.steps.values()
        ):
            return "Stopped", None
        return "Succeeded", None

    # ----------------------------------------------------------------- one step

    def _run_step(self, name: str) -> None:
        record = self.record
        step = record.definition.steps[name]
        rec = record.steps[name]
        with record.lock:
            if record.stop_requested.is_set():
                # Stopped between being scheduled and starting: launch nothing.
                rec.status, rec.end_time = "Stopped", utcnow()
                record.changed()
                return
            rec.status, rec.start_time = "Executing", utcnow()
            record.changed()
        retry = RetryState(step.retry_policies)
        while True:
            status, reason, exception_type = self._attempt(step, rec)
            if status != "Failed" or record.stop_requested.is_set():
                break
            delay = retry.delay_before_retry(exception_type)
            if delay is None:
                break
            # RetryPolicies: the step runs again after the policy's interval, in Executing.
            if record.stop_requested.wait(delay):
                status, reason = "Stopped", None
                break
            with record.lock:
                rec.attempts += 1
                rec.failure_reason = None
                record.changed()
        with record.lock:
            rec.status = status
            rec.failure_reason = reason[:_MAX_STEP_FAILURE] if reason else None
            rec.end_time = utcnow()
            record.changed()

    def _attempt(self, step: Step, rec: StepRecord) -> tuple[str, str | None, str | None]:
        """One attempt of a step: (status, failure reason, retry exception type)."""
        try:
            runner = getattr(self, f"_run_{step.type.lower()}")
            runner(step, rec)
            return "Succeeded", None, None
        except StepFailed as exc:
            return exc.status, exc.reason, exc.exception_type
        except (ExpressionError, PropertyPathError) as exc:
            return "Failed", f"cannot evaluate the step's Arguments: {exc}", None
        except SmsimError as exc:
            return "Failed", str(exc), None
        except Exception as exc:  # a client error from moto or boto3: the step fails with it
            return "Failed", f"{type(exc).__name__}: {exc}", type_of_client_error(exc)

    def _evaluate(self, step: Step, current_job: str | None = None) -> Any:
        ctx = _Context(self, step, current_job)
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
        ctx = _Context(self, step, None)
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
        ctx = _Context(self, step, None)
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


class _Context:
    """The EvaluationContext of one step of one execution."""

    def __init__(self, executor: PipelineExecutor, step: Step, current_job: str | None) -> None:
        self.executor = executor
        self.record = executor.record
        self.step = step
        self.current_job = current_job

    def parameter(self, name: str) -> Any:
        if name not in self.record.parameters:
            raise ExpressionError(
                f"Parameters.{name} is not a parameter of this pipeline; declared: "
                f"{', '.join(self.record.parameters) or 'none'}"
            )
        return self.record.parameters[name]

    def execution_variable(self, name: str) -> Any:
        r = self.record
        if name in ("TrainingJobName", "ProcessingJobName"):
            wanted = "Training" if name == "TrainingJobName" else "Processing"
            if self.step.type != wanted or self.current_job is None:
                raise ExpressionError(
                    f"Execution.{name} is defined only inside a {wanted} step's Arguments; "
                    f"step {self.step.name!r} is a {self.step.type} step"
                )
            return self.current_job
        values = {
            "PipelineExecutionId": r.execution_id,
            "PipelineExecutionArn": r.execution_arn,
            "PipelineName": r.pipeline_name,
            "PipelineArn": r.pipeline_arn,
            "StartDateTime": _iso(r.creation_time),
            "CurrentDateTime": _iso(utcnow()),
        }
        if name not in values:
            raise ExpressionError(
                f"Execution.{name} is not an execution variable; use one of {', '.join(values)}"
            )
        return values[name]

    def step_property(self, step: str, path: str) -> Any:
        rec = self.record.steps.get(step) or self.record.borrowed.get(step)
        if rec is None or rec.status != "Succeeded":
            state = "has not run" if rec is None else f"is {rec.status}"
            raise ExpressionError(f"Steps.{step}.{path}: step {step!r} {state} in this execution")
        if rec.outputs is not None:  # Lambda / Callback: Steps.<name>.OutputParameters['x']
            match = _OUTPUT_PARAMETER.fullmatch(path)
            if match is None or match.group(1) not in rec.outputs:
                raise ExpressionError(
                    f"Steps.{step}.{path}: a {rec.type} step has OutputParameters "
                    f"{sorted(rec.outputs)}"
                )
            return rec.outputs[match.group(1)]
        if rec.description is None:
            raise ExpressionError(
                f"Steps.{step}.{path}: step {step!r} ({rec.type}) has no properties"
            )
        sep = "" if path.startswith("[") else "."
        return resolve_property_path(
            rec.description, f"properties{sep}{path}", step_name=step, step_type=rec.type
        )

    def property_file(self, step: str, name: str) -> Any:
        files = self.record.property_files.get(step, {})
        if name not in files:
            declared = (
                [p.name for p in self.record.definition.steps[step].property_files]
                if (step in self.record.definition.steps)
                else []
            )
            raise ExpressionError(
                f"Steps.{step}.PropertyFiles.{name}: no such property file was read; "
                f"step {step!r} declares {declared or 'none'}"
            )
        return files[name]

    def read_json(self, s3_uri: str) -> Any:
        return self.executor.read_json(s3_uri)


def _iso(moment: dt.datetime) -> str:
    """SageMaker's rendering of its datetime execution variables: ISO 8601, UTC, ms."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strip(response: dict[str, Any]) -> dict[str, Any]:
    """A boto3 response without its ResponseMetadata (not part of the API shape)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


__all__ = ["PipelineExecutor", "StepFailed"]
