"""Property paths: parsing, checking against botocore's model, resolution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simulator.errors import PropertyPathError
from simulator.properties import (
    KEY_FIELDS,
    ParsedPath,
    Segment,
    check_property_path,
    key_field_for,
    parse_property_path,
    resolve_property_path,
)
from simulator.shapes import shape

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "property_paths.jsonl"
SDK_ROWS = [json.loads(line) for line in FIXTURE.read_text().splitlines()[1:]]


# --------------------------------------------------------------------------- parsing


def test_parse_properties_form_with_members_keys_and_indexes() -> None:
    parsed = parse_property_path("properties.A.B['val:loss'].C[0]")
    assert parsed == ParsedPath(
        step_name=None,
        segments=[
            Segment("member", "A"),
            Segment("member", "B"),
            Segment("key", "val:loss"),
            Segment("member", "C"),
            Segment("index", 0),
        ],
    )
    assert str(parsed) == "properties.A.B['val:loss'].C[0]"


def test_parse_pipeline_definition_form_keeps_the_step_name() -> None:
    parsed = parse_property_path(
        "Steps.TabularPreprocessing.ProcessingOutputConfig.Outputs['processed_data'].S3Output.S3Uri"
    )
    assert parsed.step_name == "TabularPreprocessing"
    assert parsed.segments[2] == Segment("key", "processed_data")
    assert [s.value for s in parsed.segments][-2:] == ["S3Output", "S3Uri"]


def test_parse_step_names_with_hyphens_and_double_quoted_keys() -> None:
    parsed = parse_property_path('Steps.CreateBSMModel-RepackModel-0.Outputs["a]b\'c"]')
    assert parsed.step_name == "CreateBSMModel-RepackModel-0"
    assert parsed.segments[-1] == Segment("key", "a]b'c")


@pytest.mark.parametrize(
    "bad",
    [
        "ModelArtifacts.S3ModelArtifacts",  # no prefix
        "properties..A",
        "properties.A[",
        "properties.A['unterminated",
        "properties.A[-1]",
        "properties.A[x]",
        "properties.A B",
        "Steps..A",
        "",
    ],
)
def test_parse_rejects_text_that_is_not_a_path(bad: str) -> None:
    with pytest.raises(PropertyPathError):
        parse_property_path(bad)


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ("properties.A[-1]", "negative index at position 12"),
        ("properties.A.", "expected a member name after '.' at position 12"),
        ("properties.A['k\"]", "unterminated key starting at position 12"),
        ("properties.A[\"k']", "unterminated key starting at position 12"),
        ("properties.A B", "unexpected ' ' at position 12"),
    ],
)
def test_parse_errors_say_where_and_what(bad: str, said: str) -> None:
    with pytest.raises(PropertyPathError, match=re.escape(said)):
        parse_property_path(bad)


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize("row", SDK_ROWS, ids=[f"{i}:{r['path']}" for i, r in enumerate(SDK_ROWS)])
def test_agrees_with_the_sdk_on_every_fixture_row(row: dict) -> None:
    result = check_property_path(row["step_type"], row["path"])
    assert bool(result.errors) == (not row["valid"]), result.errors
    assert result.valid == row["valid"]


def test_fixture_covers_every_rule() -> None:
    mutations = {r.get("mutation") for r in SDK_ROWS if not r["valid"]}
    assert {"typo", "attr_on_list", "index_struct", "extra_attr", "drop_prefix_member"} <= mutations
    assert len(SDK_ROWS) > 700


def test_seed_training_metrics_path_is_rejected_with_a_suggestion() -> None:
    result = check_property_path("Training", "properties.TrainingMetrics")
    assert not result.valid
    (error,) = result.errors
    assert "'TrainingMetrics' is not a member" in error
    assert "DescribeTrainingJobResponse" in error
    assert "FinalMetricDataList" in error


def test_seed_training_job_definition_path_is_rejected_with_the_path_that_exists() -> None:
    result = check_property_path(
        "Training", "properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath"
    )
    assert not result.valid
    (error,) = result.errors
    assert error.startswith("properties.TrainingJobDefinition:")
    assert "did you mean properties.OutputDataConfig.S3OutputPath?" in error


def test_member_that_lives_deeper_is_pointed_to() -> None:
    result = check_property_path("Training", "properties.S3ModelArtifacts")
    assert "properties.ModelArtifacts.S3ModelArtifacts" in result.errors[0]


def test_typo_gets_did_you_mean() -> None:
    result = check_property_path("Training", "properties.ModelArtifact.S3ModelArtifacts")
    assert "closest members: ModelArtifacts" in result.errors[0]


@pytest.mark.parametrize(
    ("step_type", "path", "names", "suggestion"),
    [
        # The seed's two mistakes.
        ("Training", "properties.TrainingMetrics", {}, "properties.FinalMetricDataList"),
        (
            "Training",
            "properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath",
            {},
            "properties.OutputDataConfig.S3OutputPath",
        ),
        # A member that exists deeper; two misspellings in one path; the Steps form.
        (
            "Training",
            "properties.S3ModelArtifacts",
            {},
            "properties.ModelArtifacts.S3ModelArtifacts",
        ),
        (
            "Training",
            "Steps.Train.ModelArtifact.S3ModelArtifact",
            {},
            "Steps.Train.ModelArtifacts.S3ModelArtifacts",
        ),
        # Misspelt declared names are corrected too.
        (
            "Processing",
            "properties.ProcessingOutputConfg.Outputs['tran'].S3Output.S3Uri",
            {"output_names": ["train", "val"]},
            "properties.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri",
        ),
        (
            "Training",
            "properties.FinalMetricDataList['val:los'].Value",
            {"metric_names": ["val:loss"]},
            "properties.FinalMetricDataList['val:loss'].Value",
        ),
    ],
)
def test_an_invalid_path_suggests_the_closest_valid_one(
    step_type: str, path: str, names: dict, suggestion: str
) -> None:
    result = check_property_path(step_type, path, **names)
    assert not result.valid and result.suggestion == suggestion
    assert check_property_path(step_type, suggestion, **names).valid


def test_no_suggestion_when_nothing_is_close() -> None:
    result = check_property_path("Training", "properties.Zzz.Yyy")
    assert not result.valid and result.suggestion is None
    assert check_property_path("Training", "properties.TrainingJobName").suggestion is None


@pytest.mark.parametrize(
    ("step_type", "path"),
    [
        ("Training", "properties.ModelArtifacts.S3ModelArtifacts"),
        ("Training", "properties.OutputDataConfig.S3OutputPath"),
        ("Training", "properties.CheckpointConfig.S3Uri"),
        ("Training", "properties.TrainingJobName"),
        ("Training", "properties.FinalMetricDataList"),
        ("Training", "properties.FinalMetricDataList['val:loss'].Value"),
        ("Training", "properties.HyperParameters['lr']"),
        ("Processing", "properties.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"),
        ("Processing", "properties.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"),
        ("Processing", "properties.ProcessingInputs['input'].S3Input.S3Uri"),
        ("Model", "properties.ModelName"),
        ("CreateModel", "properties.PrimaryContainer.ModelDataUrl"),
        ("RegisterModel", "properties.ModelPackageArn"),
        ("Transform", "properties.TransformOutput.S3OutputPath"),
    ],
)
def test_paths_pipelines_use_are_valid(step_type: str, path: str) -> None:
    result = check_property_path(step_type, path)
    assert result.valid, result.errors
    assert result.errors == [] and result.warnings == []


def test_member_on_a_structure_must_exist() -> None:
    result = check_property_path("Training", "properties.ModelArtifacts.S3Uri")
    assert not result.valid
    assert "'S3Uri' is not a member of properties.ModelArtifacts" in result.errors[0]
    assert "structure ModelArtifacts" in result.errors[0]


def test_index_only_on_a_list() -> None:
    on_struct = check_property_path("Training", "properties.ResourceConfig[0]")
    on_map = check_property_path("Training", "properties.HyperParameters[0]")
    assert not on_struct.valid and not on_map.valid
    assert "applies only to a list" in on_struct.errors[0]
    assert "structure ResourceConfig" in on_struct.errors[0]
    assert "map HyperParameters" in on_map.errors[0]


def test_key_only_on_a_list_or_a_map() -> None:
    result = check_property_path("Training", "properties.ResourceConfig['x']")
    assert not result.valid
    assert "applies only to a list (look-up by name) or a map" in result.errors[0]


def test_member_on_a_list_is_refused_with_how_to_select_an_item() -> None:
    result = check_property_path("Training", "properties.FinalMetricDataList.Value")
    assert not result.valid
    assert "['<MetricName>']" in result.errors[0]


def test_nothing_after_a_scalar() -> None:
    for path in (
        "properties.TrainingJobName.Foo",
        "properties.TrainingJobName[0]",
        "properties.TrainingJobName['x']",
        "properties.HyperParameters['lr'].Value",
    ):
        result = check_property_path("Training", path)
        assert not result.valid, path
        assert "scalar" in result.errors[0]


def test_unknown_step_type_is_an_error_naming_the_known_ones() -> None:
    result = check_property_path("Lambda", "properties.Foo")
    assert not result.valid
    assert "Lambda" in result.errors[0] and "Training" in result.errors[0]


def test_unparseable_path_is_an_error_not_an_exception() -> None:
    result = check_property_path("Training", "ModelArtifacts.S3ModelArtifacts")
    assert not result.valid and "must start with 'properties.'" in result.errors[0]


def test_steps_form_is_checked_like_properties_form() -> None:
    assert check_property_path("Training", "Steps.Train.ModelArtifacts.S3ModelArtifacts").valid
    assert not check_property_path("Training", "Steps.Train.TrainingMetrics").valid


def test_name_lookup_on_items_without_a_name_field_warns() -> None:
    result = check_property_path("Training", "properties.VpcConfig.Subnets['subnet-1']")
    assert result.valid
    assert len(result.warnings) == 1 and "no name field" in result.warnings[0]


def test_declared_output_names_make_an_unknown_key_an_error() -> None:
    path = "properties.ProcessingOutputConfig.Outputs['{}'].S3Output.S3Uri"
    good = check_property_path("Processing", path.format("train"), output_names=["train", "val"])
    bad = check_property_path("Processing", path.format("trian"), output_names=["train", "val"])
    assert good.valid
    assert not bad.valid
    assert "OutputName 'trian'" in bad.errors[0] and "did you mean 'train'" in bad.errors[0]


def test_declared_metric_names_make_an_unknown_metric_an_error() -> None:
    path = "properties.FinalMetricDataList['{}'].Value"
    assert check_property_path("Training", path.format("val:auroc"), metric_names=["val:auroc"])
    result = check_property_path("Training", path.format("val:acc"), metric_names=["val:auroc"])
    assert not result.valid and "MetricName 'val:acc'" in result.errors[0]


def test_valid_check_reports_the_shape_it_ends_on() -> None:
    assert check_property_path("Training", "properties.ModelArtifacts").shape_name == (
        "ModelArtifacts"
    )


# --------------------------------------------------------------------------- key fields


def test_key_fields_of_the_lists_pipelines_look_up_by_name() -> None:
    assert key_field_for(shape("FinalMetricDataList").member) == "MetricName"
    assert key_field_for(shape("ProcessingOutputs").member) == "OutputName"
    assert key_field_for(shape("ProcessingInputs").member) == "InputName"
    assert key_field_for(shape("InputDataConfig").member) == "ChannelName"
    assert key_field_for(shape("MetricDefinitionList").member) == "Name"
    # Not in the table: the one member ending in "Name".
    assert "InstanceGroup" not in KEY_FIELDS
    assert key_field_for(shape("InstanceGroups").member) == "InstanceGroupName"
    # Lists of scalars have no name field.
    assert key_field_for(shape("Subnets").member) is None


def test_key_fields_name_real_members() -> None:
    for item_shape, key in KEY_FIELDS.items():
        if key is not None:
            assert key in shape(item_shape).members, (item_shape, key)


# --------------------------------------------------------------------------- resolution

TRAINING = {
    "TrainingJobName": "bsm-train-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/bsm-train-1",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/out/bsm-train-1/output/model.tar.gz"},
    "HyperParameters": {"lr": "0.01", "max_epochs": "2"},
    "InputDataConfig": [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/train"}}},
        {"ChannelName": "val", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/val"}}},
    ],
    "FinalMetricDataList": [
        {"MetricName": "val:loss", "Value": 0.4},
        {"MetricName": "val:auroc", "Value": 0.91},
    ],
    "AlgorithmSpecification": {
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "val:auroc", "Regex": "val_auroc=([0-9.]+)"}],
    },
}

PROCESSING = {
    "ProcessingJobName": "prep-1",
    "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/prep-1",
    "ProcessingInputs": [{"InputName": "input", "S3Input": {"S3Uri": "s3://b/raw"}}],
    "ProcessingOutputConfig": {
        "Outputs": [
            {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/prep/train"}},
            {"OutputName": "processed_data", "S3Output": {"S3Uri": "s3://b/prep/all"}},
        ]
    },
}


MODEL_URI = TRAINING["ModelArtifacts"]["S3ModelArtifacts"]
OUTPUTS = "properties.ProcessingOutputConfig.Outputs"


@pytest.mark.parametrize(
    ("description", "path", "expected"),
    [
        (TRAINING, "properties.ModelArtifacts.S3ModelArtifacts", MODEL_URI),
        (TRAINING, "properties.FinalMetricDataList['val:auroc'].Value", 0.91),
        (TRAINING, "properties.FinalMetricDataList[0].MetricName", "val:loss"),
        (TRAINING, "properties.InputDataConfig['val'].DataSource.S3DataSource.S3Uri", "s3://b/val"),
        (TRAINING, "properties.HyperParameters['lr']", "0.01"),
        (
            TRAINING,
            "properties.AlgorithmSpecification.MetricDefinitions['val:auroc'].Regex",
            "val_auroc=([0-9.]+)",
        ),
        (TRAINING, "Steps.Train.TrainingJobName", "bsm-train-1"),
        (PROCESSING, f"{OUTPUTS}['processed_data'].S3Output.S3Uri", "s3://b/prep/all"),
        (PROCESSING, f"{OUTPUTS}[0].S3Output.S3Uri", "s3://b/prep/train"),
        (PROCESSING, "properties.ProcessingInputs['input'].S3Input.S3Uri", "s3://b/raw"),
    ],
)
def test_resolve_reaches_the_value(description: dict, path: str, expected: object) -> None:
    assert resolve_property_path(description, path) == expected


def test_resolve_returns_whole_subtrees() -> None:
    assert (
        resolve_property_path(TRAINING, "properties.FinalMetricDataList")
        == (TRAINING["FinalMetricDataList"])
    )


def test_resolve_without_an_identifying_member_infers_the_key_field() -> None:
    bare = {"Outputs": [{"OutputName": "a", "S3Output": {"S3Uri": "s3://x"}}]}
    assert resolve_property_path(bare, "properties.Outputs['a'].S3Output.S3Uri") == "s3://x"


def test_resolve_unknown_metric_names_step_path_and_what_exists() -> None:
    with pytest.raises(PropertyPathError) as exc:
        resolve_property_path(
            TRAINING, "properties.FinalMetricDataList['val:f1'].Value", step_name="Train"
        )
    message = str(exc.value)
    assert "'Train'" in message
    assert "FinalMetricDataList['val:f1'].Value" in message
    assert "'val:loss'" in message and "'val:auroc'" in message


def test_resolve_missing_member_lists_the_members_present() -> None:
    with pytest.raises(PropertyPathError) as exc:
        resolve_property_path(TRAINING, "properties.CheckpointConfig.S3Uri", step_name="Train")
    assert "no 'CheckpointConfig'" in str(exc.value)
    assert "ModelArtifacts" in str(exc.value)


def test_resolve_uses_the_step_name_of_the_steps_form() -> None:
    with pytest.raises(PropertyPathError, match="step 'Prep'"):
        resolve_property_path(PROCESSING, "Steps.Prep.ProcessingOutputConfig.Outputs['nope']")


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("properties.FinalMetricDataList[5]", "has 2 item(s); index 5 is out of range"),
        ("properties.HyperParameters['epochs']", "keys there: 'lr', 'max_epochs'"),
        ("properties.TrainingJobName.Foo", "the scalar 'bsm-train-1'"),
        ("properties.ModelArtifacts[0]", "needs a list"),
        ("properties.ModelArtifacts['x']", "needs a list or a map"),
    ],
)
def test_resolve_failures_say_what_is_there(path: str, fragment: str) -> None:
    with pytest.raises(PropertyPathError) as exc:
        resolve_property_path(TRAINING, path, step_name="Train")
    assert fragment in str(exc.value)


def test_resolve_lookup_on_items_without_name_field_fails() -> None:
    description = {"TrainingJobArn": "arn", "VpcConfig": {"Subnets": ["subnet-1"]}}
    with pytest.raises(PropertyPathError, match="no name field"):
        resolve_property_path(description, "properties.VpcConfig.Subnets['subnet-1']")


def test_resolve_with_an_explicit_step_type_uses_its_key_fields() -> None:
    # No identifying member in the description: the step type says Channel → ChannelName.
    description = {"InputDataConfig": [{"ChannelName": "test", "ContentType": "text/csv"}]}
    path = "properties.InputDataConfig['test'].ContentType"
    assert resolve_property_path(description, path, step_type="Training") == "text/csv"
    with pytest.raises(ValueError, match="unknown SageMaker step type"):
        resolve_property_path(description, path, step_type="Lambda")


def test_errors_on_the_steps_form_name_the_step_prefix() -> None:
    check = check_property_path("Training", "Steps.Train.TrainingMetrics")
    assert check.errors[0].startswith("Steps.Train.TrainingMetrics:")
    with pytest.raises(PropertyPathError, match=r"Steps\.Prep\.ProcessingOutputConfig\.Outputs"):
        resolve_property_path(PROCESSING, "Steps.Prep.ProcessingOutputConfig.Outputs['nope']")
