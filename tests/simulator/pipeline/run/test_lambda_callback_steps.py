"""A Lambda step and a Callback step built by the SageMaker Python SDK (v2). The function
is created in the simulator's AWS with boto3 and a zip; its handler runs locally, without
Docker, and its returned dict's OutputParameters feed a Condition. The Callback's token
goes to moto's SQS and is answered from another thread through boto3."""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

sagemaker = pytest.importorskip("sagemaker")  # the test-only extra

from simulator.session import LocalSageMaker  # noqa: E402
from tests.support import run_pipeline  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
HANDLER = """
def handler(event, context):
    score = float(event["score"])
    print("scoring", score)
    return {"verdict": "go" if score > 0.5 else "stop", "doubled": score * 2}
"""


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buf.getvalue()


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    with LocalSageMaker(workspace=tmp_path_factory.mktemp("lambda-ws"), log_sink=print) as s:
        s.s3.create_bucket(Bucket="lambda-bucket")
        yield s


@pytest.fixture(scope="module")
def function_arn(sm: LocalSageMaker) -> str:
    import boto3

    # Lambda needs a role it can assume, as on AWS.
    trust = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ]
        }
    )
    role = boto3.client("iam", region_name=sm.region).create_role(
        RoleName="gate-role", AssumeRolePolicyDocument=trust
    )["Role"]["Arn"]
    return _create_function(sm, "score-gate", HANDLER, role)


def _create_function(sm: LocalSageMaker, name: str, handler: str, role: str, **extra: Any) -> str:
    import boto3

    client = boto3.client("lambda", region_name=sm.region)
    return client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="gate.handler",
        Code={"ZipFile": _zip({"gate.py": handler})},
        **extra,
    )["FunctionArn"]


def _session(sm: LocalSageMaker) -> Any:
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    return PipelineSession(
        boto_session=boto3.Session(region_name=sm.region),
        default_bucket="lambda-bucket",
        sagemaker_config={
            "SchemaVersion": "1.0",
            "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
        },
    )


def pipeline(sm: LocalSageMaker, arn: str) -> Any:
    from sagemaker.lambda_helper import Lambda
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.lambda_step import LambdaOutput, LambdaOutputTypeEnum, LambdaStep
    from sagemaker.workflow.parameters import ParameterFloat
    from sagemaker.workflow.pipeline import Pipeline

    session = _session(sm)
    score = ParameterFloat("Score", default_value=0.9)
    verdict = LambdaOutput("verdict", LambdaOutputTypeEnum.String)
    doubled = LambdaOutput("doubled", LambdaOutputTypeEnum.Float)
    gate = LambdaStep(
        "Gate",
        lambda_func=Lambda(function_arn=arn, session=session),
        inputs={"score": score},
        outputs=[verdict, doubled],
    )
    check = ConditionStep(
        "Check",
        conditions=[ConditionEquals(left=gate.properties.Outputs["verdict"], right="go")],
        if_steps=[],
        else_steps=[
            FailStep(
                "Stop",
                error_message=Join(
                    on=" ", values=["doubled score", gate.properties.Outputs["doubled"]]
                ),
            )
        ],
    )
    return Pipeline("gated", parameters=[score], steps=[gate, check], sagemaker_session=session)


def run(sm: LocalSageMaker, **params: str) -> tuple[dict, dict]:
    return run_pipeline(sm, "gated", params, timeout=120)


def test_a_lambda_steps_output_feeds_a_condition(sm: LocalSageMaker, function_arn: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline(sm, function_arn).upsert(role_arn=ROLE)

    desc, steps = run(sm)
    assert desc["PipelineExecutionStatus"] == "Succeeded"
    assert steps["Check"]["Metadata"]["Condition"]["Outcome"] == "True"
    outputs = {
        p["Name"]: p["Value"] for p in steps["Gate"]["Metadata"]["Lambda"]["OutputParameters"]
    }
    assert outputs["verdict"] == "go"

    desc, steps = run(sm, Score="0.25")
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert steps["Check"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["Stop"]["StepStatus"] == "Failed"
    assert "doubled score 0.5" in desc["FailureReason"]


SLOW = """
import time
def handler(event, context):
    left = context.get_remaining_time_in_millis()
    time.sleep(float(event["score"]))
    return {"verdict": "go", "doubled": left}
"""


def test_a_lambda_step_fails_when_the_function_outlives_its_timeout(
    sm: LocalSageMaker, function_arn: str
) -> None:
    """The function's CreateFunction Timeout (2 s here) bounds the handler, as Lambda
    does: a 5 s handler fails the step with Lambda's words; a quick one sees the time
    left through its context."""
    import boto3

    role = boto3.client("lambda", region_name=sm.region).get_function(FunctionName="score-gate")[
        "Configuration"
    ]["Role"]
    arn = _create_function(sm, "slow-gate", SLOW, role, Timeout=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline(sm, arn).upsert(role_arn=ROLE)
    try:
        desc, steps = run(sm, Score="5")
        assert desc["PipelineExecutionStatus"] == "Failed"
        assert steps["Gate"]["StepStatus"] == "Failed"
        assert "Task timed out after 2.00 seconds" in steps["Gate"]["FailureReason"]

        desc, steps = run(sm, Score="0")
        assert desc["PipelineExecutionStatus"] == "Succeeded", steps["Gate"].get("FailureReason")
        outputs = {
            p["Name"]: p["Value"] for p in steps["Gate"]["Metadata"]["Lambda"]["OutputParameters"]
        }
        assert 0 < float(outputs["doubled"]) <= 2000
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipeline(sm, function_arn).upsert(role_arn=ROLE)


def callback_pipeline(sm: LocalSageMaker, queue_url: str) -> Any:
    from sagemaker.workflow.callback_step import (
        CallbackOutput,
        CallbackOutputTypeEnum,
        CallbackStep,
    )
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionEquals
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.pipeline import Pipeline

    approval = CallbackStep(
        "Approval",
        sqs_queue_url=queue_url,
        inputs={"model": "m-1"},
        outputs=[CallbackOutput("decision", CallbackOutputTypeEnum.String)],
    )
    check = ConditionStep(
        "Approved",
        conditions=[ConditionEquals(left=approval.properties.Outputs["decision"], right="yes")],
        if_steps=[],
        else_steps=[FailStep("Rejected", error_message="rejected")],
    )
    return Pipeline("approval", steps=[approval, check], sagemaker_session=_session(sm))


def _answer(sm: LocalSageMaker, queue_url: str, succeed: bool, box: list) -> None:
    """Another party: reads the token from the queue and answers through boto3."""
    import boto3

    sqs = boto3.client("sqs", region_name=sm.region)
    client = boto3.client("sagemaker", region_name=sm.region)
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if got:
            break
    body = json.loads(got[0]["Body"])
    box.append(body)
    if succeed:
        client.send_pipeline_execution_step_success(
            CallbackToken=body["token"], OutputParameters=[{"Name": "decision", "Value": "yes"}]
        )
    else:
        client.send_pipeline_execution_step_failure(
            CallbackToken=body["token"], FailureReason="reviewer said no"
        )


@pytest.mark.parametrize("succeed", [True, False])
def test_a_callback_step_is_answered_from_another_thread(sm: LocalSageMaker, succeed: bool) -> None:
    import threading

    import boto3

    queue_url = boto3.client("sqs", region_name=sm.region).create_queue(
        QueueName=f"approvals-{succeed}"
    )["QueueUrl"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        callback_pipeline(sm, queue_url).upsert(role_arn=ROLE)
    box: list = []
    answerer = threading.Thread(target=_answer, args=(sm, queue_url, succeed, box), daemon=True)
    answerer.start()
    arn = sm.start_pipeline_execution(PipelineName="approval")["PipelineExecutionArn"]
    desc = sm.wait_for_pipeline_execution(arn, timeout=120)
    answerer.join(10)
    steps = {
        s["StepName"]: s
        for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)[
            "PipelineExecutionSteps"
        ]
    }
    assert box[0]["pipelineExecutionArn"] == arn and box[0]["arguments"] == {"model": "m-1"}
    assert steps["Approval"]["Metadata"]["Callback"]["CallbackToken"] == box[0]["token"]
    if succeed:
        assert desc["PipelineExecutionStatus"] == "Succeeded"
        assert steps["Approved"]["Metadata"]["Condition"]["Outcome"] == "True"
    else:
        assert desc["PipelineExecutionStatus"] == "Failed"
        assert steps["Approval"]["StepStatus"] == "Failed"
        assert steps["Approval"]["FailureReason"] == "reviewer said no"
        assert "Approved" not in steps
