"""A workspace keeps its pipelines: a new endpoint on it lists and describes them, their
executions and steps, and a step's job stays its description's owner."""

from __future__ import annotations

import json

from simulator import LocalSageMaker

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_pipelines_and_executions_survive_a_restart(tmp_path, stage_code, training_request):
    ws = tmp_path / "ws"
    with LocalSageMaker(workspace=ws, log_sink=lambda _: None) as sm:
        stage_code(sm, {"train.py": "print('loss=0.5')\n"})
        arguments = training_request("unused", "s3://smsim-test-bucket/c.tar.gz")
        del arguments["TrainingJobName"]
        definition = {
            "Version": "2020-12-01",
            "Parameters": [{"Name": "Note", "Type": "String", "DefaultValue": "x"}],
            "Steps": [{"Name": "Train", "Type": "Training", "Arguments": arguments}],
        }
        sm.create_pipeline(
            PipelineName="Kept", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )
        arn = sm.start_pipeline_execution(
            PipelineName="Kept", PipelineParameters=[{"Name": "Note", "Value": "y"}]
        )["PipelineExecutionArn"]
        before = sm.wait_for_pipeline_execution(arn, timeout=120)
        steps_before = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        assert before["PipelineExecutionStatus"] == "Succeeded"

    with LocalSageMaker(workspace=ws, log_sink=lambda _: None) as sm:
        assert [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]] == ["Kept"]
        assert sm.describe_pipeline(PipelineName="kept")["PipelineDefinition"] == json.dumps(
            definition
        )
        assert sm.describe_pipeline_execution(PipelineExecutionArn=arn) == before
        assert sm.list_pipeline_execution_steps(PipelineExecutionArn=arn) == steps_before
        params = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
        assert params["PipelineParameters"] == [{"Name": "Note", "Value": "y"}]
        executions = sm.list_pipeline_executions(PipelineName="Kept")
        assert [e["PipelineExecutionArn"] for e in executions["PipelineExecutionSummaries"]] == [
            arn
        ]
        # The step's properties still resolve against its job's record.
        step = sm.pipelines.execution_record(arn).steps["Train"]
        assert step.description["TrainingJobStatus"] == "Completed"
        job = steps_before["PipelineExecutionSteps"][0]["Metadata"]["TrainingJob"]["Arn"]
        assert step.description["TrainingJobArn"] == job
        # The name stays taken: an upsert updates it.
        sm.update_pipeline(PipelineName="Kept", PipelineDescription="again")
        assert sm.describe_pipeline(PipelineName="Kept")["PipelineDescription"] == "again"
