"""`smsim demo`: the BSM pipeline on tiny data, its JSON document and its report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from simulator.cli.demo_report import print_result
from simulator.demo import run_demo
from simulator.requests import DEFAULT_SOURCE_DIR


@pytest.fixture(scope="module")
def demo_json(tmp_path_factory: pytest.TempPathFactory, smsim) -> dict:
    workspace = tmp_path_factory.mktemp("demo-cli")
    args = ["demo", "--workspace", str(workspace), "--rows", "200", "--epochs", "1"]
    # Threshold 0: the gate passes whatever AUROC one epoch on 200 rows reaches.
    result = smsim(*args, "--threshold", "0", "--json")
    assert result.exit_code == 0, result.output
    # Progress goes to stderr; stdout is the one JSON document, nothing else.
    return json.loads(result.stdout)


def test_json_document_has_status_steps_and_outputs(demo_json: dict) -> None:
    assert demo_json["pipeline_execution_status"] == "Succeeded"
    steps = {s["name"]: s for s in demo_json["steps"]}
    names = [s["name"] for s in demo_json["steps"]]
    # In execution order; the model and the package are created in parallel, the
    # transform runs on the created model.
    assert names[:4] == ["TabularPreprocessing", "PyTorchTraining", "ModelEvaluation", "CheckAUROC"]
    assert set(names[4:]) == {"CreateBSMModel", "RegisterBSMModel", "BatchTransformTest"}
    assert names.index("BatchTransformTest") > names.index("CreateBSMModel")
    assert {s["type"] for s in demo_json["steps"]} == {
        "Processing",
        "Training",
        "Condition",
        "Model",
        "RegisterModel",
        "Transform",
    }
    assert all(s["status"] == "Succeeded" for s in demo_json["steps"])
    assert steps["PyTorchTraining"]["type"] == "Training"


def test_transform_step_scores_the_test_split_as_evaluate_does(demo_json: dict) -> None:
    """The served model is the evaluated one: the AUROC of the transform's predictions on
    the test rows is evaluate.py's AUROC on the same rows."""
    transform = demo_json["transform"]
    evaluation = demo_json["evaluation"]
    assert transform["records"] == evaluation["num_rows"] > 0
    assert transform["auroc"] == pytest.approx(evaluation["metrics"]["auroc"]["value"], abs=1e-6)
    step = {s["name"]: s for s in demo_json["steps"]}["BatchTransformTest"]
    assert step["key_output"].startswith(f"test AUROC {transform['auroc']:.3f}")
    out = demo_json["outputs"]["BatchTransformTest"]["transform_output"]["value"]
    assert out == transform["output_uri"]


def test_outputs_are_resolved_property_paths(demo_json: dict) -> None:
    outputs = demo_json["outputs"]
    model = outputs["PyTorchTraining"]["model_output"]
    assert model["property_path"] == "properties.ModelArtifacts.S3ModelArtifacts"
    assert model["value"].startswith("s3://smsim-demo/") and model["value"].endswith("model.tar.gz")
    assert outputs["CreateBSMModel"]["model_data_url"]["value"] == model["value"]
    processed = outputs["TabularPreprocessing"]["processed_data"]["value"]
    execution_id = demo_json["pipeline_execution_arn"].rsplit("/", 1)[-1]
    assert f"/{execution_id}/TabularPreprocessing/" in processed
    package = outputs["RegisterBSMModel"]["model_package_arn"]["value"]
    assert ":model-package/" in package
    assert all("error" not in entry for step in outputs.values() for entry in step.values())


def test_workspace_keeps_definition_and_evaluation(demo_json: dict) -> None:
    definition = json.loads(Path(demo_json["definition_path"]).read_text())
    assert definition["Version"] == "2020-12-01"
    auroc = demo_json["evaluation"]["metrics"]["auroc"]["value"]
    assert 0.0 <= auroc <= 1.0
    assert Path(demo_json["execution_dir"]).is_dir()


def test_report_for_people(demo_json: dict, capsys: pytest.CaptureFixture[str]) -> None:
    print_result(demo_json)
    text = capsys.readouterr().out
    for needle in ("Steps", "PyTorchTraining", "Succeeded", "properties.ModelArtifacts"):
        assert needle in text
    assert "Test metrics (evaluation.json): auroc" in text


def test_a_failing_step_is_reported_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real code with a preprocess.py that fails the way a user's script might.
    source = tmp_path / "code"
    shutil.copytree(DEFAULT_SOURCE_DIR, source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "preprocess.py").write_text(
        "import sys\nprint('reading raw data')\n"
        "sys.exit('KeyError: column label_x not found in the raw data')\n"
    )
    result = run_demo(tmp_path / "ws", rows=60, epochs=1, source_dir=source)
    assert result["pipeline_execution_status"] == "Failed"
    assert [(s["name"], s["status"]) for s in result["steps"]] == [
        ("TabularPreprocessing", "Failed")
    ]
    assert "TabularPreprocessing" in result["failure_reason"]
    log = Path(result["steps"][0]["log"])
    assert "label_x" in log.read_text()
    print_result(result)
    text = capsys.readouterr().out
    assert "TabularPreprocessing failed" in text and "label_x" in text
    assert "Pipeline execution Failed" in text


def test_a_workspace_that_cannot_be_created_is_a_usage_error(tmp_path: Path, smsim) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = smsim("demo", "--workspace", blocker / "ws", "--rows", "50", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error.startswith(f"--workspace {blocker / 'ws'}: cannot create it")
