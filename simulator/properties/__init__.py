"""SageMaker property paths: parse, check against the API model, resolve.

A pipeline step's outputs are reached through property paths such as
``properties.ModelArtifacts.S3ModelArtifacts`` (a step spec) or
``Steps.Train.ModelArtifacts.S3ModelArtifacts`` (a ``Get`` in a pipeline
definition). Each walks the Describe* response of the step's SageMaker type
(``simulator.shapes.STEP_OPERATIONS``). The rules are the SDK's own
(``sagemaker.workflow.properties``) and the service's:

- ``.Member`` must be a member of the structure at that point;
- ``[n]`` applies only to a list;
- ``['key']`` applies to a list (look-up by the items' name field, e.g.
  ``FinalMetricDataList['val:loss']`` by ``MetricName``) or to a map;
- nothing may follow a scalar.

Three concerns, one module each: :mod:`.parsing` (the syntax),
:mod:`.checking` (:func:`check_property_path`: would SageMaker accept it, and
why not) and :mod:`.resolution` (:func:`resolve_property_path`: evaluate one
against a description dict, the way the service does when a later step reads it).
"""

from simulator.properties.checking import KEY_FIELDS, PathCheck, check_property_path, key_field_for
from simulator.properties.parsing import (
    ParsedPath,
    Segment,
    format_segments,
    parse_property_path,
)
from simulator.properties.resolution import resolve_property_path

__all__ = [
    "KEY_FIELDS",
    "ParsedPath",
    "PathCheck",
    "Segment",
    "check_property_path",
    "format_segments",
    "key_field_for",
    "parse_property_path",
    "resolve_property_path",
]
