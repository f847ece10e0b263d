"""simulator.outputs: a spec's outputs resolved against a job description, one shape."""

from __future__ import annotations

from simulator.outputs import resolve_outputs
from specs.pytorch_training import PYTORCH_TRAINING_SPEC

DESCRIPTION = {
    "TrainingJobName": "t-1",
    "ModelArtifacts": {"S3ModelArtifacts": "s3://b/out/t-1/output/model.tar.gz"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/out/"},
    "CheckpointConfig": {"S3Uri": "s3://b/ckpt"},
    "FinalMetricDataList": [{"MetricName": "val:auroc", "Value": 0.9, "Timestamp": 0}],
}


def test_every_output_has_its_property_path_and_value() -> None:
    out = resolve_outputs(PYTORCH_TRAINING_SPEC, DESCRIPTION)
    assert set(out) == set(PYTORCH_TRAINING_SPEC.outputs)
    assert out["model_output"] == {
        "property_path": "properties.ModelArtifacts.S3ModelArtifacts",
        "value": "s3://b/out/t-1/output/model.tar.gz",
    }
    assert out["training_job_name"]["value"] == "t-1"
    assert out["metrics_output"]["value"][0]["MetricName"] == "val:auroc"


def test_an_output_the_description_lacks_is_an_error_entry() -> None:
    failed = {k: v for k, v in DESCRIPTION.items() if k != "FinalMetricDataList"}
    out = resolve_outputs(PYTORCH_TRAINING_SPEC, failed, step_name="Train")
    entry = out["metrics_output"]
    assert entry["property_path"] == "properties.FinalMetricDataList"
    assert "value" not in entry and "FinalMetricDataList" in entry["error"]
    assert out["model_output"]["value"].endswith("model.tar.gz")  # the others still resolve
