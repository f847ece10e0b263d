"""simulator.pipeline.watch: an execution followed to its end, each step change reported."""

from __future__ import annotations

import json
from typing import Any

from simulator.pipeline.watch import first_line, list_steps, watch_execution

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_watch_reports_each_step_change_and_returns_the_final_description(sm: Any) -> None:
    definition = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [{"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "on purpose"}}],
    }
    sm.create_pipeline(PipelineName="w", PipelineDefinition=json.dumps(definition), RoleArn=ROLE)
    arn = sm.start_pipeline_execution(PipelineName="w")["PipelineExecutionArn"]
    changes: list[tuple[str, str]] = []
    polls: list[dict[str, str]] = []
    final = watch_execution(
        sm,
        arn,
        timeout=120,
        on_change=lambda step: changes.append((step["StepName"], step["StepStatus"])),
        on_poll=polls.append,
    )
    assert final["PipelineExecutionStatus"] == "Failed"
    assert changes[-1] == ("Stop", "Failed")
    assert len(changes) == len(set(changes))  # a status is reported once, when it changes
    assert polls[-1] == {"Stop": "Failed"}
    assert [s["StepName"] for s in list_steps(sm, arn)] == ["Stop"]


def test_first_line_is_short() -> None:
    assert first_line("  boom\nTraceback …") == "boom"
    assert len(first_line("x" * 500)) == 160
