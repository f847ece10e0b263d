"""The EvaluationContext of one pipeline step: what its expressions can refer to.

A step's Arguments may name the pipeline's Parameters, the Execution variables
(``ExecutionId``, ``StartDateTime``...; SageMaker renders the datetimes as ISO 8601, UTC,
milliseconds), earlier steps' properties (``Steps.<name>.<path>``, resolved against those
steps' descriptions) and property files (JsonGet). A reference to a step that has not run
(or a parameter that was not declared) is an error in the step, as in SageMaker.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from simulator.pipeline.run.definition import Step
from simulator.pipeline.run.expressions import ExpressionError
from simulator.pipeline.run.records import utcnow
from simulator.properties import resolve_property_path

if TYPE_CHECKING:
    from simulator.pipeline.run.executor import PipelineExecutor

_OUTPUT_PARAMETER = re.compile(r"""OutputParameters\[['"]([^'"]+)['"]\]""")


class StepContext:
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
