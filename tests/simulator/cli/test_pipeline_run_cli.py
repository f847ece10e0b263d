"""`smsim pipeline validate` and `smsim pipeline run`."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.support import at_least, condition_step, fail_step, joined

FIXTURE = Path(__file__).parents[2] / "fixtures" / "sdk_pipeline_definition.json"


@pytest.fixture
def run(cli):
    return lambda *args: cli(*args, catch_exceptions=False)


def test_validate_the_sdk_fixture_is_clean(run) -> None:
    result = run("pipeline", "validate", str(FIXTURE), "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["problems"] == []
    assert [s["name"] for s in report["steps"]][:2] == ["TabularPreprocessing", "PyTorchTraining"]


def test_validate_reports_a_broken_path_and_exits_1(tmp_path: Path, run) -> None:
    doc = json.loads(FIXTURE.read_text())
    broken = copy.deepcopy(doc)
    inputs = broken["Steps"][2]["Arguments"]["ProcessingInputs"]
    inputs[0]["S3Input"]["S3Uri"] = {"Get": "Steps.PyTorchTraining.ModelArtifacts.S3ModelArtifact"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = run("pipeline", "validate", str(path), "--json")
    assert result.exit_code == 1
    [problem] = json.loads(result.stdout)["problems"]
    assert problem["step"] == "ModelEvaluation"
    assert problem["path"] == "Arguments.ProcessingInputs[0].S3Input.S3Uri"
    assert problem["fix"] == "did you mean 'Steps.PyTorchTraining.ModelArtifacts.S3ModelArtifacts'?"
    human = run("pipeline", "validate", str(path))
    assert human.exit_code == 1
    assert "ModelEvaluation" in human.stdout and "did you mean" in human.stdout


def gate_definition() -> dict:
    """Reads an uploaded JSON file through Std:JsonGet's S3Uri form; fails below a threshold."""
    return {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
        "Steps": [
            condition_step(
                "Gate",
                [
                    at_least(
                        {
                            "Std:JsonGet": {
                                "S3Uri": "s3://cli-bucket/cfg/scores.json",
                                "Path": "$.runs[?name=='best'].score",
                            }
                        },
                        {"Get": "Parameters.Threshold"},
                    )
                ],
                [],
                [fail_step("TooLow", joined("below", {"Get": "Parameters.Threshold"}))],
            )
        ],
    }


def test_run_with_parameters_and_uploads(tmp_path: Path, run) -> None:
    definition = tmp_path / "gate.json"
    definition.write_text(json.dumps(gate_definition()))
    scores = tmp_path / "scores.json"
    scores.write_text(
        json.dumps({"runs": [{"name": "base", "score": 0.1}, {"name": "best", "score": 0.7}]})
    )
    common = [
        "--upload",
        f"{scores}=s3://cli-bucket/cfg/",
        "--workspace",
        str(tmp_path / "ws"),
        "--json",
    ]

    passed = run("pipeline", "run", str(definition), *common)
    assert passed.exit_code == 0, passed.output
    out = json.loads(passed.stdout)
    assert out["pipeline_execution_status"] == "Succeeded"
    assert [(s["name"], s["type"], s["status"]) for s in out["steps"]] == [
        ("Gate", "Condition", "Succeeded")
    ]
    assert out["steps"][0]["metadata"] == {"Condition": {"Outcome": "True"}}
    assert Path(out["workspace"], "execution.json").is_file()

    failed = run("pipeline", "run", str(definition), "--parameter", "Threshold=0.9", *common)
    assert failed.exit_code == 1
    out = json.loads(failed.stdout)
    assert out["pipeline_execution_status"] == "Failed"
    assert [s["name"] for s in out["steps"]] == ["Gate", "TooLow"]
    assert "below 0.9" in out["failure_reason"]


def test_run_refuses_unsupported_steps_before_running(tmp_path: Path, run) -> None:
    doc = gate_definition()
    doc["Steps"].append({"Name": "Notify", "Type": "EMR", "Arguments": {}})
    definition = tmp_path / "lambda.json"
    definition.write_text(json.dumps(doc))
    result = run("pipeline", "run", str(definition), "--workspace", str(tmp_path / "ws"), "--json")
    assert result.exit_code == 2
    assert "Notify (EMR)" in json.loads(result.stdout)["error"]
    assert not (tmp_path / "ws" / "pipelines").exists()


def test_run_rejects_a_bad_parameter_pair(tmp_path: Path, cli) -> None:
    definition = tmp_path / "gate.json"
    definition.write_text(json.dumps(gate_definition()))
    result = cli("pipeline", "run", definition, "--parameter", "nope")
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_uploads_files_directories_and_source_archives(tmp_path: Path) -> None:
    import io
    import tarfile

    from simulator.cli.pipeline_run import _upload
    from simulator.session import LocalSageMaker

    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "train.py").write_text("print(1)\n")
    (src / "pkg" / "m.py").write_text("X = 1\n")
    with LocalSageMaker(workspace=tmp_path / "ws", log_sink=lambda line: None) as sm:
        _upload(sm.s3, src / "train.py", "s3://up-bucket/code/")
        _upload(sm.s3, src, "s3://up-bucket/tree")
        _upload(sm.s3, src, "s3://up-bucket/archive/sourcedir.tar.gz")
        keys = sorted(o["Key"] for o in sm.s3.list_objects_v2(Bucket="up-bucket")["Contents"])
        body = sm.s3.get_object(Bucket="up-bucket", Key="archive/sourcedir.tar.gz")["Body"].read()
    assert keys == [
        "archive/sourcedir.tar.gz",
        "code/train.py",
        "tree/pkg/m.py",
        "tree/train.py",
    ]
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert {m.name for m in tar.getmembers() if m.isfile()} == {"train.py", "pkg/m.py"}


def test_a_missing_or_non_json_definition_is_a_usage_error(tmp_path: Path, run) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text("{not json")
    a_list = tmp_path / "list.json"
    a_list.write_text("[1, 2]")
    for command in ("validate", "run"):
        missing = run("pipeline", command, str(tmp_path / "nope.json"), "--json")
        assert missing.exit_code == 2
        assert "nope.json: no such file" in json.loads(missing.stdout)["error"]
        bad = run("pipeline", command, str(not_json), "--json")
        assert bad.exit_code == 2
        assert "not valid JSON" in json.loads(bad.stdout)["error"]
    listed = run("pipeline", "validate", str(a_list))
    assert listed.exit_code == 2
    assert "must be a JSON object" in listed.stderr


def test_bad_parameters_are_refused_naming_the_option_before_anything_runs(
    tmp_path: Path, run
) -> None:
    definition = tmp_path / "gate.json"
    definition.write_text(json.dumps(gate_definition()))
    workspace = tmp_path / "ws"
    result = run(
        "pipeline",
        "run",
        str(definition),
        "-p",
        "Treshold=0.5",
        "-p",
        "Threshold=high",
        "--workspace",
        str(workspace),
    )
    assert result.exit_code == 2
    assert "--parameter Treshold=0.5" in result.stderr
    assert "did you mean 'Threshold'?" in result.stderr
    assert "--parameter Threshold=high" in result.stderr and "Float" in result.stderr
    assert not workspace.exists()  # refused before the embedded AWS started


def test_validate_for_people_lists_steps_and_problems_with_fixes(tmp_path: Path, run) -> None:
    doc = json.loads(FIXTURE.read_text())
    clean = run("pipeline", "validate", str(FIXTURE))
    assert clean.exit_code == 0
    assert "PyTorchTraining" in clean.stdout and "valid" in clean.stdout
    train = next(s for s in doc["Steps"] if s["Type"] == "Training")
    train["Arguments"]["ResourceConfig"]["InstanceCount"] = "one"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    result = run("pipeline", "validate", str(broken))
    assert result.exit_code == 1
    assert f"step {train['Name']}, Arguments.ResourceConfig.InstanceCount" in result.stdout


def test_an_invalid_definition_is_refused_with_every_problem_before_running(
    tmp_path: Path, run
) -> None:
    doc = gate_definition()
    doc["Steps"][0]["Arguments"]["Conditions"][0]["RightValue"] = {"Get": "Parameters.Treshold"}
    definition = tmp_path / "typo.json"
    definition.write_text(json.dumps(doc))
    workspace = tmp_path / "ws"
    result = run("pipeline", "run", str(definition), "--workspace", str(workspace), "--json")
    assert result.exit_code == 2
    out = json.loads(result.stdout)
    assert "nothing was run" in out["error"]
    [problem] = out["problems"]
    assert problem["step"] == "Gate" and "Treshold" in problem["message"]
    assert problem["fix"] == "did you mean 'Threshold'?"
    assert not workspace.exists()


def _processing(name: str, **extra: object) -> dict:
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "AppSpecification": {
                "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tiny:1",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/step.py"],
            },
            "RoleArn": "arn:aws:iam::123456789012:role/R",
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": "s3://cli-bucket/code/step.py",
                        "LocalPath": "/opt/ml/processing/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
        **extra,
    }


def test_run_shows_cache_hits_and_attempts(tmp_path: Path, monkeypatch, cli) -> None:
    doc = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            _processing("Prep", CacheConfig={"Enabled": True, "ExpireAfter": "P1D"}),
            _processing(
                "Flaky",
                RetryPolicies=[
                    {"ExceptionType": ["SageMaker.CAPACITY_ERROR"], "IntervalSeconds": 1}
                ],
            ),
        ],
    }
    definition = tmp_path / "engine.json"
    definition.write_text(json.dumps(doc))
    script = tmp_path / "step.py"
    script.write_text("print('done')\n")
    monkeypatch.setenv("SMSIM_FAULTS", '[{"kind": "CapacityError", "step": "Flaky"}]')
    common = ["--upload", f"{script}=s3://cli-bucket/code/", "--workspace", str(tmp_path / "ws")]

    first = cli("pipeline", "run", str(definition), *common, "--json")
    assert first.exit_code == 0, first.output
    out1 = json.loads(first.stdout)
    steps1 = {s["name"]: s for s in out1["steps"]}
    assert steps1["Prep"]["cache_hit_source"] is None
    assert steps1["Flaky"]["attempts"] == 2 and steps1["Flaky"]["status"] == "Succeeded"

    second = cli("pipeline", "run", str(definition), *common, "--json")
    steps2 = {s["name"]: s for s in json.loads(second.stdout)["steps"]}
    assert steps2["Prep"]["cache_hit_source"] == out1["pipeline_execution_arn"]

    human = cli("pipeline", "run", str(definition), *common)
    assert human.exit_code == 0
    source_id = out1["pipeline_execution_arn"].rsplit("/", 1)[-1]
    assert f"cached from {source_id}" in human.stdout
    assert "2 attempts" in human.stdout
