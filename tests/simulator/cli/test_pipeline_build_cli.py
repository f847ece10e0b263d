"""`smsim pipeline plan` and `smsim pipeline export`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.pipeline.run.validate import validate_definition


@pytest.fixture
def run(cli):
    return lambda *args: cli(*args, catch_exceptions=False)


def test_plan_json_shows_every_wiring_with_scores(run) -> None:
    result = run("pipeline", "plan", "--dag", "bsm", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    steps = {s["name"]: s for s in report["steps"]}
    deps = {d["dependency"]: d for d in steps["ModelEvaluation"]["dependencies"]}
    chosen = deps["model_input"]["chosen"]
    assert (chosen["step"], chosen["output"]) == ("PyTorchTraining", "model_output")
    assert chosen["property_path"] == "properties.ModelArtifacts.S3ModelArtifacts"
    assert chosen["score"] >= report["threshold"]
    assert abs(sum(chosen["breakdown"].values()) - chosen["score"]) < 1e-3
    training = {d["dependency"]: d for d in steps["PyTorchTraining"]["dependencies"]}
    assert training["input_path"]["chosen"]["output"] == "processed_data"
    assert training["config"]["inline"] is True  # hyperparameters travel in the request
    pre = steps["TabularPreprocessing"]["dependencies"][0]
    assert pre["parameter"] == "Parameters.InputData"
    assert report["gate"]["else_step"] == "AurocTooLow"
    assert report["config"]["bucket"] == "smsim-demo"  # usable as a --config template


def test_plan_for_people_names_steps_outputs_and_scores(run) -> None:
    result = run("pipeline", "plan")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "TabularPreprocessing.processed_data" in text
    assert "PyTorchTraining.model_output" in text
    assert "CheckAUROC" in text and "AurocTooLow" in text


def test_export_writes_a_valid_definition(tmp_path: Path, run) -> None:
    out = tmp_path / "defs" / "bsm.json"
    result = run("pipeline", "export", "--dag", "bsm", "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    definition = json.loads(out.read_text())
    assert definition["Version"] == "2020-12-01"
    assert validate_definition(definition).ok
    assert [s["name"] for s in summary["steps"]][:3] == [
        "TabularPreprocessing",
        "PyTorchTraining",
        "ModelEvaluation",
    ]
    assert any(uri.endswith("sourcedir.tar.gz") for uri in summary["code"])


def test_export_with_a_config_file(tmp_path: Path, run) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"bucket": "other-bucket", "auroc_threshold": 0.75}))
    out = tmp_path / "bsm.json"
    result = run("pipeline", "export", "-o", str(out), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "Wrote" in result.output
    definition = json.loads(out.read_text())
    params = {p["Name"]: p["DefaultValue"] for p in definition["Parameters"]}
    assert params["AurocThreshold"] == 0.75
    assert params["InputData"] == "s3://other-bucket/bsm/raw/"


def test_bad_config_and_unknown_dag_exit_2(tmp_path: Path, run) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"bucket": "Not_A_Bucket"}))
    result = run("pipeline", "export", "-o", str(tmp_path / "x.json"), "--config", str(config))
    assert result.exit_code == 2
    assert "bucket" in result.output and "Not_A_Bucket" in result.output
    assert not (tmp_path / "x.json").exists()
    result = run("pipeline", "plan", "--dag", "nope", "--json")
    assert result.exit_code == 2
    assert "bsm" in json.loads(result.output)["error"]


def test_export_writes_the_code_objects_the_definition_names(tmp_path: Path, run) -> None:
    out, code = tmp_path / "bsm.json", tmp_path / "code"
    result = run("pipeline", "export", "-o", str(out), "--write-code", str(code), "--json")
    assert result.exit_code == 0, result.output
    definition = json.loads(out.read_text())
    hps = definition["Steps"][1]["Arguments"]["HyperParameters"]
    sourcedir = json.loads(hps["sagemaker_submit_directory"]).removeprefix("s3://")
    assert (code / sourcedir).is_file()
    processing = next(
        i["S3Input"]["S3Uri"]
        for i in definition["Steps"][0]["Arguments"]["ProcessingInputs"]
        if i["InputName"] == "code"
    ).removeprefix("s3://")
    assert (code / processing / "preprocess.py").is_file()
    assert (code / processing / "evaluate.py").is_file()
    assert len(json.loads(result.output)["code_files"]) > 2
