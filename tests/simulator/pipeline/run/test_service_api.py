"""PipelineService: the pipeline operations with boto3's shapes, errors and ids."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.errors import ResourceNotFound, UnsupportedFeature, ValidationError
from simulator.session import LocalSageMaker
from tests.support import condition_step, fail_step

ROLE = "arn:aws:iam::123456789012:role/R"
FIXTURE = Path(__file__).parents[3] / "fixtures" / "sdk_pipeline_definition.json"


def fail_only(message: str = "stop here") -> dict:
    """A pipeline of one Condition and a Fail step: runs without any job."""
    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "Mode", "Type": "String", "DefaultValue": "go"},
            {"Name": "Count", "Type": "Integer", "DefaultValue": 2},
        ],
        "PipelineExperimentConfig": {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        },
        "Steps": [
            condition_step(
                "Gate",
                [{"Type": "In", "QueryValue": {"Get": "Parameters.Mode"}, "Values": ["go", "run"]}],
                [],
                [fail_step("Halt", message)],
            )
        ],
    }


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    with LocalSageMaker(workspace=tmp_path_factory.mktemp("ws"), log_sink=lambda line: None) as s:
        yield s


def test_create_describe_list_update_delete(sm: LocalSageMaker) -> None:
    text = json.dumps(fail_only())
    arn = sm.create_pipeline(PipelineName="Crud-1", PipelineDefinition=text, RoleArn=ROLE)[
        "PipelineArn"
    ]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:pipeline/crud-1"
    desc = sm.describe_pipeline(PipelineName="Crud-1")
    assert desc["PipelineDefinition"] == text and desc["PipelineStatus"] == "Active"
    assert sm.describe_pipeline(PipelineName=arn)["PipelineName"] == "Crud-1"
    # The service's answer to a taken name, which the SDK's Pipeline.upsert() relies on.
    with pytest.raises(ValidationError, match=r"Pipeline with name \(Crud-1\) already exists"):
        sm.create_pipeline(PipelineName="crud-1", PipelineDefinition=text, RoleArn=ROLE)
    names = [
        p["PipelineName"] for p in sm.list_pipelines(PipelineNamePrefix="Crud")["PipelineSummaries"]
    ]
    assert names == ["Crud-1"]
    updated = sm.update_pipeline(PipelineName="Crud-1", PipelineDescription="v2")
    assert updated["PipelineVersionId"] == 2
    assert sm.describe_pipeline(PipelineName="Crud-1")["PipelineDescription"] == "v2"
    sm.delete_pipeline(PipelineName="Crud-1")
    with pytest.raises(ResourceNotFound, match="'Crud-1' does not exist"):
        sm.describe_pipeline(PipelineName="Crud-1")


def test_execution_ids_arns_and_execution_listing(sm: LocalSageMaker) -> None:
    sm.create_pipeline(PipelineName="ids", PipelineDefinition=json.dumps(fail_only()), RoleArn=ROLE)
    arns = [
        sm.start_pipeline_execution(PipelineName="ids")["PipelineExecutionArn"] for _ in range(3)
    ]
    for arn in arns:
        execution_id = arn.rsplit("/", 1)[1]
        assert re.fullmatch(r"[a-z0-9]{12}", execution_id)
        assert (
            arn == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/ids/execution/{execution_id}"
        )
        desc = sm.wait_for_pipeline_execution(arn, timeout=30)
        assert desc["PipelineExecutionStatus"] == "Succeeded"
        assert desc["PipelineExperimentConfig"] == {
            "ExperimentName": "ids",
            "TrialName": execution_id,
        }
    assert len(set(arns)) == 3
    listed = sm.list_pipeline_executions(PipelineName="ids", SortOrder="Ascending")
    assert [e["PipelineExecutionArn"] for e in listed["PipelineExecutionSummaries"]] == arns
    page = sm.list_pipeline_executions(PipelineName="ids", MaxResults=2)
    assert len(page["PipelineExecutionSummaries"]) == 2 and page["NextToken"]


def test_parameters_are_typed_and_checked(sm: LocalSageMaker) -> None:
    sm.create_pipeline(
        PipelineName="params", PipelineDefinition=json.dumps(fail_only()), RoleArn=ROLE
    )
    arn = sm.start_pipeline_execution(
        PipelineName="params", PipelineParameters=[{"Name": "Mode", "Value": "halt"}]
    )["PipelineExecutionArn"]
    desc = sm.wait_for_pipeline_execution(arn, timeout=30)
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert "stop here" in desc["FailureReason"]
    params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    assert params["PipelineParameters"] == [
        {"Name": "Mode", "Value": "halt"},
        {"Name": "Count", "Value": "2"},
    ]
    snapshot = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
    assert json.loads(snapshot["PipelineDefinition"]) == fail_only()
    with pytest.raises(ValidationError) as err:
        sm.start_pipeline_execution(
            PipelineName="params",
            PipelineParameters=[{"Name": "Mod", "Value": "x"}, {"Name": "Count", "Value": "two"}],
        )
    text = str(err.value)
    assert "did you mean 'Mode'?" in text
    assert "'Count' is Integer; 'two' is not a valid Integer" in text


def test_an_invalid_definition_is_refused_with_every_problem(sm: LocalSageMaker) -> None:
    doc = json.loads(FIXTURE.read_text())
    doc["Steps"][1]["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = {
        "Get": "Steps.TabularPreprocessing.ProcessingOutputConfig.Outputs['processed']"
        ".S3Output.S3Uri"
    }
    doc["Steps"][3]["Arguments"]["Conditions"][0]["RightValue"] = {"Get": "Parameters.AucThresh"}
    with pytest.raises(ValidationError) as err:
        sm.create_pipeline(PipelineName="broken", PipelineDefinition=json.dumps(doc), RoleArn=ROLE)
    assert len(err.value.problems) == 2
    with pytest.raises(ResourceNotFound):
        sm.describe_pipeline(PipelineName="broken")


def test_unsupported_step_types_are_refused_before_anything_runs(sm: LocalSageMaker) -> None:
    doc = fail_only()
    doc["Steps"].append({"Name": "Notify", "Type": "EMR", "Arguments": {}})
    doc["Steps"].append({"Name": "Check", "Type": "ClarifyCheck", "Arguments": {}})
    with pytest.raises(UnsupportedFeature, match=r"Notify \(EMR\), Check \(ClarifyCheck\)"):
        sm.create_pipeline(PipelineName="lambda", PipelineDefinition=json.dumps(doc), RoleArn=ROLE)


def test_definition_from_s3(sm: LocalSageMaker) -> None:
    sm.s3.create_bucket(Bucket="defs")
    sm.s3.put_object(Bucket="defs", Key="p.json", Body=json.dumps(fail_only()).encode())
    sm.create_pipeline(
        PipelineName="from-s3",
        PipelineDefinitionS3Location={"Bucket": "defs", "ObjectKey": "p.json"},
        RoleArn=ROLE,
    )
    assert (
        json.loads(sm.describe_pipeline(PipelineName="from-s3")["PipelineDefinition"])
        == fail_only()
    )


def test_unknown_execution_is_not_found(sm: LocalSageMaker) -> None:
    with pytest.raises(ResourceNotFound):
        sm.describe_pipeline_execution(
            PipelineExecutionArn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/x/execution/abc"
        )
