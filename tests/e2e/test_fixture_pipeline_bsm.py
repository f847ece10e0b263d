"""The real SDK definition in tests/fixtures/sdk_pipeline_definition.json, run as it is.

The fixture names code objects in S3 that are not part of it; this test uploads its own
code to exactly those keys: our BSM scripts (preprocess.py, evaluate.py, the training
source dir) and, for the SDK's model-repack Training step, a sourcedir.tar.gz holding the
SDK's own ``_repack_model.py`` and ``_repack_script_launcher.sh`` (the launcher's text is
the SDK's ``LAUNCH_REPACK_SCRIPT_CMD``), as ``Pipeline.definition()`` would have uploaded.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sagemaker = pytest.importorskip("sagemaker")  # the test-only extra: its repack files
# The repack script files of v2's sagemaker.workflow._utils.
pytestmark = pytest.mark.sdk(2)

from simulator.datasets import write_dataset  # noqa: E402
from simulator.pipeline.run.definition import PipelineDefinition  # noqa: E402
from simulator.session import LocalSageMaker  # noqa: E402
from tests.support import BSM_STEPS, assert_steps_succeeded, run_pipeline  # noqa: E402

ROOT = Path(__file__).parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "sdk_pipeline_definition.json"
BSM = ROOT / "dockers" / "pytorch_bsm"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _source_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _code_uris(defn: PipelineDefinition) -> dict[str, str]:
    """The S3 URIs of code the fixture's steps name, by what they hold."""
    uris: dict[str, str] = {}
    for step in defn.steps.values():
        args = step.arguments
        for item in args.get("ProcessingInputs", []):
            if item["InputName"] == "code":
                uris[item["S3Input"]["S3Uri"].rsplit("/", 1)[1]] = item["S3Input"]["S3Uri"]
        hp = args.get("HyperParameters", {})
        if "sagemaker_submit_directory" in hp:
            program = json.loads(hp["sagemaker_program"])
            uris[f"sourcedir:{program}"] = json.loads(hp["sagemaker_submit_directory"])
    return uris


def _put(sm: LocalSageMaker, uri: str, body: bytes) -> None:
    bucket, key = uri[len("s3://") :].split("/", 1)
    sm.s3.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture(scope="module")
def sm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSageMaker]:
    from sagemaker.workflow import _utils as workflow_utils

    defn = PipelineDefinition.parse(FIXTURE.read_text())
    uris = _code_uris(defn)
    lines: list[str] = []
    with LocalSageMaker(workspace=tmp_path_factory.mktemp("ws"), log_sink=lines.append) as local:
        local.s3.create_bucket(Bucket="sim-bucket")
        _put(local, uris["preprocess.py"], (BSM / "preprocess.py").read_bytes())
        _put(local, uris["evaluate.py"], (BSM / "evaluate.py").read_bytes())
        source = _source_files(BSM)
        _put(local, uris["sourcedir:train.py"], _tar_gz(source))
        repack = Path(workflow_utils.__file__).with_name(workflow_utils.REPACK_SCRIPT)
        launcher = workflow_utils.LAUNCH_REPACK_SCRIPT_CMD.encode()
        _put(
            local,
            uris["sourcedir:_repack_script_launcher.sh"],
            _tar_gz(
                {
                    **source,
                    workflow_utils.REPACK_SCRIPT: repack.read_bytes(),
                    workflow_utils.REPACK_SCRIPT_LAUNCHER: launcher,
                }
            ),
        )
        raw = write_dataset(tmp_path_factory.mktemp("data"), rows=240, seed=3, split=False)
        for path in Path(raw["dir"]).rglob("*.csv"):
            local.s3.upload_file(str(path), "sim-bucket", f"raw/bsm/{path.name}")
        local.create_pipeline(
            PipelineName="BsmPipeline", PipelineDefinition=FIXTURE.read_text(), RoleArn=ROLE
        )
        yield local


def run(sm: LocalSageMaker, **parameters: str) -> tuple[dict[str, Any], dict[str, dict]]:
    return run_pipeline(sm, "BsmPipeline", parameters, timeout=900)


def test_the_fixture_runs_end_to_end_through_the_repack_and_model_steps(
    sm: LocalSageMaker,
) -> None:
    desc, steps = run(sm, Epochs="1", AucThreshold="0.0")
    assert_steps_succeeded(
        desc,
        steps,
        [*BSM_STEPS, "CreateBSMModel-RepackModel-0", "CreateBSMModel-CreateModel"],
    )
    record = sm.pipelines.execution_record(desc["PipelineExecutionArn"])
    train = record.steps["PyTorchTraining"].description
    # Epochs came through Std:Join as the string SageMaker passes.
    assert train["HyperParameters"]["max_epochs"] == "1"
    assert train["ModelArtifacts"]["S3ModelArtifacts"].startswith(
        f"s3://sim-bucket/pipelines/{record.execution_id}/training/"
    )
    assert train["CheckpointConfig"]["S3Uri"] == "s3://sim-bucket/checkpoints/bsm"
    report = record.property_files["ModelEvaluation"]["EvaluationReport"]
    assert 0.0 <= report["metrics"]["auroc"]["value"] <= 1.0
    # The repacked archive holds the model and the inference code under code/.
    repacked = record.steps["CreateBSMModel-RepackModel-0"].description
    uri = repacked["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    body = sm.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("code/train.py") for n in names)
    model_arn = steps["CreateBSMModel-CreateModel"]["Metadata"]["Model"]["Arn"]
    model = sm.describe_model(ModelName=model_arn.rsplit("/", 1)[1])
    assert model["PrimaryContainer"]["ModelDataUrl"] == uri
