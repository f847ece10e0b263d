"""Run one pipeline execution: steps in dependency order, independent steps in parallel.

The rules are SageMaker Pipelines': a step starts when every step it depends on has
succeeded; a Condition step enables one branch, and the other branch's steps (and
anything that needs them) never run and are not listed; when a step fails, steps
already running finish, no new step starts, and the execution fails with that step's
reason. What finished steps uploaded to S3 stays there.

The runners of each step type are in :mod:`simulator.pipeline.run.step_runners`; what a
step's expressions can refer to is in :mod:`simulator.pipeline.run.step_context`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from simulator.errors import PropertyPathError, SmsimError
from simulator.faults import FaultPlan
from simulator.pipeline.run.callback import CallbackRegistry
from simulator.pipeline.run.definition import BRANCHES, Step
from simulator.pipeline.run.expressions import ExpressionError
from simulator.pipeline.run.records import ExecutionRecord, StepRecord, utcnow
from simulator.pipeline.run.retry import RetryState, type_of_client_error
from simulator.pipeline.run.step_failed import StepFailed
from simulator.pipeline.run.step_runners import StepRunners

_MAX_STEP_FAILURE = 1024  # botocore FailureReason max length
_MAX_EXECUTION_FAILURE = 1300  # botocore PipelineExecutionFailureReason max length
_UNFINISHED_STEP_STATUS = ("Starting", "Executing", "Stopping")


class PipelineExecutor(StepRunners):
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


__all__ = ["PipelineExecutor", "StepFailed"]
