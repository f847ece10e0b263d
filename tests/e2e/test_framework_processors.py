"""The SDK v2 FrameworkProcessor family, unmodified, runs its jobs through smsim (#11).

``PyTorchProcessor`` and ``FrameworkProcessor(estimator_cls=SKLearn)`` stage a
``sourcedir.tar.gz`` (source_dir + dependencies) and a generated ``runproc.sh`` that
does ``cd /opt/ml/processing/input/code/`` in bash; ``SKLearnProcessor`` runs a single
script. Each runs in both container modes; ``processor.jobs[-1].describe()`` is the
service's DescribeProcessingJob.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import boto3
import pytest

from simulator.hosts import namespace
from simulator.hosts.local import MODE_ENV
from simulator.shapes import validate_response

sagemaker = pytest.importorskip("sagemaker")

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sdk-bucket"
SDK_CONFIG = {  # keeps the SDK from phoning home (its documented switch)
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
NS = namespace.probe()
MODES = [
    pytest.param("namespace", marks=pytest.mark.skipif(not NS.available, reason=NS.reason)),
    "fallback",
]

# The entry script imports a module of its source_dir and a package given as a dependency.
PROCESS_PY = r"""
import argparse, csv, os
from helpers import scale
from mydep.stats import total

parser = argparse.ArgumentParser()
parser.add_argument("--factor", type=float)
args = parser.parse_args()
with open("/opt/ml/processing/input/data/rows.csv") as f:
    values = [float(row["x"]) for row in csv.DictReader(f)]
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/result.txt", "w") as f:
    f.write(f"{total(scale(values, args.factor))} cwd={os.getcwd()}")
"""
HELPERS_PY = "def scale(values, factor):\n    return [v * factor for v in values]\n"
STATS_PY = "def total(values):\n    return sum(values)\n"


@pytest.fixture(params=MODES)
def container_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(MODE_ENV, request.param)
    return str(request.param)


@pytest.fixture
def session(sm: Any) -> Any:
    boto = boto3.Session(region_name="us-east-1")
    sdk = sagemaker.Session(boto, default_bucket=BUCKET, sagemaker_config=SDK_CONFIG)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerows([["x"], [1], [2], [3.5]])
    sm.s3.create_bucket(Bucket=BUCKET)
    sm.s3.put_object(Bucket=BUCKET, Key="in/rows.csv", Body=buf.getvalue().encode())
    return sdk


@pytest.fixture
def one_instance(session: Any) -> Any:
    """``one_instance(base_job_name)``: the options every processor here is built with (the
    SageMakerRole, one ml.m5.xlarge, ``session``)."""

    def options(base_job_name: str) -> dict[str, Any]:
        return {
            "role": ROLE,
            "instance_type": "ml.m5.xlarge",
            "instance_count": 1,
            "base_job_name": base_job_name,
            "sagemaker_session": session,
        }

    return options


@pytest.fixture
def pytorch_processor(one_instance: Any) -> Any:
    """A factory: ``pytorch_processor(base_job_name)``, a PyTorchProcessor on ``session``."""
    from sagemaker.pytorch.processing import PyTorchProcessor

    def build(base_job_name: str) -> Any:
        return PyTorchProcessor(
            framework_version="2.1", py_version="py310", **one_instance(base_job_name)
        )

    return build


def source_tree(tmp_path: Path, requirements: str | None = None) -> tuple[Path, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "process.py").write_text(PROCESS_PY)
    (src / "helpers.py").write_text(HELPERS_PY)
    if requirements is not None:
        (src / "requirements.txt").write_text(requirements)
    dep = tmp_path / "mydep"
    dep.mkdir()
    (dep / "__init__.py").write_text("")
    (dep / "stats.py").write_text(STATS_PY)
    return src, dep


def run_framework(processor: Any, src: Path, dep: Path, out: str) -> None:
    from sagemaker.processing import ProcessingInput, ProcessingOutput

    processor.run(
        code="process.py",
        source_dir=str(src),
        dependencies=[str(dep)],
        inputs=[
            ProcessingInput(
                source=f"s3://{BUCKET}/in/", destination="/opt/ml/processing/input/data"
            )
        ],
        outputs=[
            ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{BUCKET}/{out}")
        ],
        arguments=["--factor", "2"],
        wait=False,
        logs=False,
    )


def finished(sm: Any, processor: Any) -> dict[str, Any]:
    job = processor.jobs[-1]
    sm.wait_for_processing_job(job.job_name, timeout=180)
    return job.describe()


def result(sm: Any, key: str) -> str:
    return sm.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def assert_framework_job(desc: dict[str, Any], processor: Any) -> None:
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("ExitMessage")
    # boto3's response as from the service: the shape plus its ResponseMetadata.
    validate_response(
        "DescribeProcessingJob", {k: v for k, v in desc.items() if k != "ResponseMetadata"}
    )
    assert desc["ProcessingJobName"] == processor.jobs[-1].job_name
    # What the SDK sent, as the service describes it: its runproc.sh run by bash.
    assert desc["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    local_paths = {i["InputName"]: i["S3Input"]["LocalPath"] for i in desc["ProcessingInputs"]}
    assert local_paths["code"] == "/opt/ml/processing/input/code/"
    assert local_paths["entrypoint"] == "/opt/ml/processing/input/entrypoint"


def test_pytorch_processor_with_source_dir_and_dependencies(
    sm, pytorch_processor, tmp_path, container_mode
):
    src, dep = source_tree(tmp_path)
    processor = pytorch_processor("pt-proc")
    run_framework(processor, src, dep, "out/pt")
    desc = finished(sm, processor)
    assert_framework_job(desc, processor)
    text = result(sm, "out/pt/result.txt")
    assert text.startswith("13.0 cwd=")  # (1 + 2 + 3.5) * 2, through helpers and mydep
    if container_mode == "namespace":
        assert text == "13.0 cwd=/opt/ml/processing/input/code"


def test_sklearn_framework_processor_with_source_dir(sm, one_instance, tmp_path, container_mode):
    from sagemaker.processing import FrameworkProcessor
    from sagemaker.sklearn.estimator import SKLearn

    src, dep = source_tree(tmp_path)
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        py_version="py3",
        **one_instance("sk-proc"),
    )
    run_framework(processor, src, dep, "out/sk")
    assert_framework_job(finished(sm, processor), processor)
    assert result(sm, "out/sk/result.txt").startswith("13.0 cwd=")


def test_sklearn_processor_runs_its_script(sm, one_instance, tmp_path, container_mode):
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    script = tmp_path / "count.py"
    script.write_text(
        "import os\n"
        "rows = open('/opt/ml/processing/input/data/rows.csv').read().split()\n"
        "open('/opt/ml/processing/output/n.txt', 'w').write(str(len(rows) - 1))\n"
    )
    processor = SKLearnProcessor(framework_version="1.2-1", **one_instance("sk-script"))
    processor.run(
        code=str(script),
        inputs=[
            ProcessingInput(
                source=f"s3://{BUCKET}/in/", destination="/opt/ml/processing/input/data"
            )
        ],
        outputs=[
            ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{BUCKET}/out/n")
        ],
        wait=False,
        logs=False,
    )
    desc = finished(sm, processor)
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("ExitMessage")
    assert desc["AppSpecification"]["ContainerEntrypoint"][0] == "python3"
    assert result(sm, "out/n/n.txt") == "3"


def test_requirements_the_image_lacks_fail_the_job_clearly(sm, pytorch_processor, tmp_path):
    # Checked before the host starts: the same in both container modes (default: auto).
    src, dep = source_tree(tmp_path, requirements="numpy\nsmsim-no-such-package==9.9\n")
    processor = pytorch_processor("pt-req")
    run_framework(processor, src, dep, "out/req")
    desc = finished(sm, processor)
    assert desc["ProcessingJobStatus"] == "Failed"
    reason = desc["FailureReason"]
    assert reason.startswith("ClientError: the requirements.txt of ")
    assert "smsim-no-such-package==9.9" in reason
    assert "images.json" in reason and "/path/to/venv/bin/python" in reason
    assert processor.image_uri in reason  # the key to put in the images map


def test_requirements_the_image_has_let_the_job_run(sm, pytorch_processor, tmp_path):
    src, dep = source_tree(tmp_path, requirements="numpy\n")
    processor = pytorch_processor("pt-req-ok")
    run_framework(processor, src, dep, "out/req-ok")
    assert_framework_job(finished(sm, processor), processor)
    assert result(sm, "out/req-ok/result.txt").startswith("13.0 cwd=")
