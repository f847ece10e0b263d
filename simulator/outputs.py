"""Every output of a step spec, resolved through its property path against a description.

What a downstream ``Get`` would read: ``properties.ModelArtifacts.S3ModelArtifacts`` of a
DescribeTrainingJob response is the model.tar.gz URI. `smsim train --json` and `smsim demo
--json` report outputs in this one shape, so a tool reads both the same way::

    {"<logical name>": {"property_path": "properties.…", "value": …}}
    {"<logical name>": {"property_path": "properties.…", "error": "why it does not resolve"}}
"""

from __future__ import annotations

from typing import Any

from simulator.errors import SmsimError
from simulator.properties import resolve_property_path
from specs.base import StepSpecification


def resolve_outputs(
    spec: StepSpecification, description: dict[str, Any], *, step_name: str | None = None
) -> dict[str, dict[str, Any]]:
    """Each output of ``spec``: its property path and value, or why it does not resolve.

    An output a description lacks (a failed job has no ``FinalMetricDataList``) is an
    ``error`` entry, not an exception: the other outputs still resolve.
    """
    out: dict[str, dict[str, Any]] = {}
    for output in spec.outputs.values():
        entry: dict[str, Any] = {"property_path": output.property_path}
        try:
            entry["value"] = resolve_property_path(
                description, output.property_path, step_name=step_name or spec.step_type
            )
        except SmsimError as exc:
            entry["error"] = str(exc)
        out[output.logical_name] = entry
    return out
