"""The router: smsim's operations, IAM's answers, tags, everything else to moto."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from simulator.endpoint import wire


def test_iam_calls_the_sdks_make_are_answered(sm):
    iam = boto3.client("iam")
    results = iam.simulate_principal_policy(
        PolicySourceArn="arn:aws:iam::123456789012:role/SageMakerRole",
        ActionNames=["sagemaker:CreateTrainingJob", "s3:GetObject"],
    )["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalDecision"]) for r in results] == [
        ("sagemaker:CreateTrainingJob", "allowed"),
        ("s3:GetObject", "allowed"),
    ]
    role = iam.get_role(RoleName="SageMakerRole")["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/SageMakerRole"
    # A role moto holds is moto's answer; other IAM calls are moto's.
    made = iam.create_role(RoleName="Made", AssumeRolePolicyDocument="{}")["Role"]
    assert iam.get_role(RoleName="Made")["Role"]["RoleId"] == made["RoleId"]


def test_tags_of_smsims_resources_and_of_motos(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ok')\n"})
    arn = sm.create_training_job(
        **training_request("tagged", code, Tags=[{"Key": "a", "Value": "1"}])
    )["TrainingJobArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    model = sm.create_model(
        ModelName="m",
        PrimaryContainer={"Image": "img"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/R",
        Tags=[{"Key": "m", "Value": "x"}],
    )["ModelArn"]
    assert sm.list_tags(ResourceArn=model)["Tags"] == [{"Key": "m", "Value": "x"}]  # moto's
    sm.wait_for_training_job("tagged", timeout=60)


def test_listing_filters_sorting_and_paginators(sm, upload_code, training_request):
    code = upload_code({"train.py": "print('ok')\n"})
    fail = upload_code({"train.py": "raise SystemExit(3)\n"}, key="code/fail.tar.gz")
    for name, uri in (("b-ok", code), ("a-fails", fail), ("c-ok", code)):
        sm.create_training_job(**training_request(name, uri))
        sm.wait_for_training_job(name, timeout=60)
    by_status = sm.list_training_jobs(SortBy="Status", SortOrder="Ascending")
    assert [s["TrainingJobStatus"] for s in by_status["TrainingJobSummaries"]] == [
        "Completed",
        "Completed",
        "Failed",
    ]
    assert [
        s["TrainingJobName"]
        for s in sm.list_training_jobs(SortBy="Name", SortOrder="Descending")[
            "TrainingJobSummaries"
        ]
    ] == ["c-ok", "b-ok", "a-fails"]
    pages = list(
        sm.client.get_paginator("list_training_jobs").paginate(PaginationConfig={"PageSize": 2})
    )
    assert [len(p["TrainingJobSummaries"]) for p in pages] == [2, 1]
    # Summaries carry every member of botocore's TrainingJobSummary the job has.
    summary = sm.list_training_jobs(NameContains="fails")["TrainingJobSummaries"][0]
    assert set(summary) == {
        "TrainingJobName",
        "TrainingJobArn",
        "CreationTime",
        "TrainingEndTime",
        "LastModifiedTime",
        "TrainingJobStatus",
        "SecondaryStatus",
    }
    with pytest.raises(sm.exceptions.ClientError, match="SortBy"):
        sm.list_training_jobs(SortBy="Size")
    later = sm.list_training_jobs(LastModifiedTimeAfter=dt.datetime.now(dt.UTC))
    assert later["TrainingJobSummaries"] == []


def test_wire_timestamps_both_ways():
    params = wire.decode_request("ListTrainingJobs", b'{"CreationTimeAfter": 1700000000}')
    assert params["CreationTimeAfter"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert wire.encode_response({"T": params["CreationTimeAfter"]}) == b'{"T": 1700000000.0}'
