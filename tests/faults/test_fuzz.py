"""A fuzzer of property paths and pipeline definitions (#17): whatever a user writes, the
simulator answers with its own errors (``SmsimError``: field, value, fix), never a crash.

Inputs are drawn from the grammar (member names of botocore's Describe* shapes, ``[n]``,
``['key']``, the definition's keys, expressions and step types) mixed with arbitrary text
and JSON, so the fuzzer reaches the deep code paths and the broken inputs alike.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import SmsimError
from simulator.pipeline.run.definition import PipelineDefinition
from simulator.pipeline.run.validate import validate_definition
from simulator.properties import check_property_path, parse_property_path, resolve_property_path
from simulator.shapes import STEP_OPERATIONS, root_shape_for_step_type

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,  # no .hypothesis/ folder left in the tree
    suppress_health_check=[HealthCheck.too_slow],
)
STEP_TYPES = sorted(STEP_OPERATIONS)
MEMBERS = sorted(
    {name for t in STEP_TYPES for name in root_shape_for_step_type(t).members}
    | {"S3ModelArtifacts", "Outputs", "S3Output", "S3Uri", "MetricName", "Value", "OutputName"}
)

# -- property paths -------------------------------------------------------------------------
_segment = st.one_of(
    st.sampled_from(MEMBERS).map(lambda m: "." + m),
    st.integers(min_value=-3, max_value=50).map(lambda i: f"[{i}]"),
    st.text(max_size=12).map(lambda k: f"[{k!r}]"),
    st.text(max_size=12).map(lambda k: f'["{k}"]'),
    st.text(alphabet="[]'\".\\ ", max_size=4),
    st.text(max_size=8),
)
_head = st.sampled_from(["properties", "Steps.Train", "Steps.Prep.properties", "", "Steps."])
property_paths = st.one_of(
    st.builds(lambda h, segs: h + "".join(segs), _head, st.lists(_segment, max_size=6)),
    st.text(max_size=40),
)

# A description to resolve against: the shape of a finished training job.
DESCRIPTION: dict[str, Any] = {
    "TrainingJobName": "t",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/t",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/t/output/model.tar.gz"},
    "TrainingJobStatus": "Completed",
    "SecondaryStatus": "Completed",
    "HyperParameters": {"epochs": "2"},
    "FinalMetricDataList": [{"MetricName": "val:loss", "Value": 0.5}],
    "InputDataConfig": [{"ChannelName": "train", "DataSource": {}}],
}


@FUZZ
@given(path=property_paths, step_type=st.sampled_from([*STEP_TYPES, "CreateModel"]))
def test_property_paths_never_crash(path: str, step_type: str) -> None:
    with contextlib.suppress(SmsimError):
        parse_property_path(path)
    try:
        check = check_property_path(step_type, path, metric_names=["val:loss"])
        assert isinstance(check.valid, bool)
    except SmsimError:
        pass
    with contextlib.suppress(SmsimError):
        resolve_property_path(DESCRIPTION, path, step_type="Training")


# -- pipeline definitions -------------------------------------------------------------------
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
_names = st.sampled_from(["Train", "Prep", "Check", "Eval", "Gate", "x" * 70, "", "bad name"])
_get = st.one_of(
    st.builds(lambda p: {"Get": p}, property_paths),
    st.builds(lambda n: {"Get": f"Parameters.{n}"}, st.sampled_from(["Epochs", "Nope", ""])),
    st.builds(lambda v: {"Get": f"Execution.{v}"}, st.sampled_from(["PipelineExecutionId", "X"])),
    st.builds(
        lambda on, vs: {"Std:Join": {"On": on, "Values": vs}}, _json, st.lists(_json, max_size=3)
    ),
    st.builds(
        lambda pf, p: {"Std:JsonGet": {"PropertyFile": pf, "Path": p}},
        st.one_of(_json, st.just({"Get": "Steps.Prep.PropertyFiles.metrics"})),
        _json,
    ),
)
_value = st.one_of(_json, _get)
_condition = st.fixed_dictionaries(
    {
        "Type": st.sampled_from(["Equals", "GreaterThan", "In", "Not", "Or", "LessThan", "Bogus"]),
        "LeftValue": _value,
        "RightValue": _value,
    }
)
_arguments = st.one_of(
    st.dictionaries(st.sampled_from(MEMBERS + ["ErrorMessage", "Conditions"]), _value, max_size=4),
    _json,
)


def _step(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "Name": _names,
            "Type": st.sampled_from([*STEP_TYPES, "Condition", "Fail", "Lambda", "EMR", "Nope"]),
            "Arguments": st.one_of(
                _arguments,
                st.fixed_dictionaries(
                    {
                        "Conditions": st.lists(_condition, max_size=2),
                        "IfSteps": st.lists(children, max_size=2),
                        "ElseSteps": st.lists(children, max_size=2),
                    }
                ),
            ),
        },
        optional={
            "DependsOn": st.lists(_names, max_size=2),
            "PropertyFiles": st.lists(_json, max_size=2),
            "RetryPolicies": _json,
            "CacheConfig": _json,
        },
    )


_steps = st.recursive(st.nothing(), lambda children: _step(children), max_leaves=5)
definitions = st.one_of(
    st.fixed_dictionaries(
        {
            "Version": st.sampled_from(["2020-12-01", "2019-01-01"]),
            "Steps": st.lists(_steps, max_size=4),
        },
        optional={
            "Parameters": st.lists(
                st.fixed_dictionaries(
                    {
                        "Name": _names,
                        "Type": st.sampled_from(["Integer", "String", "Float", "Nope"]),
                    },
                    optional={"DefaultValue": _json},
                ),
                max_size=3,
            ),
            "Metadata": _json,
            "PipelineExperimentConfig": _json,
        },
    ),
    _json,
)


@FUZZ
@given(definition=definitions, as_text=st.booleans())
def test_pipeline_definitions_never_crash(definition: Any, as_text: bool) -> None:
    # A dict as the SDK passes it, else its JSON text (a definition file's content).
    source = definition if isinstance(definition, dict) and not as_text else json.dumps(definition)
    try:
        parsed = PipelineDefinition.parse(source)
    except SmsimError:
        parsed = None
    report = validate_definition(source if parsed is None else parsed)
    assert isinstance(report.ok, bool)
    assert report.to_dict()  # the report renders (the CLI's --json)
    if parsed is not None and report.ok:
        with contextlib.suppress(SmsimError):
            parsed.topological_order()


@FUZZ
@given(text=st.text(max_size=200))
def test_definition_text_never_crashes(text: str) -> None:
    with contextlib.suppress(SmsimError):
        PipelineDefinition.parse(text)
    assert isinstance(validate_definition(text).ok, bool)
