"""Unusable workspace or disk (#17, requirement 4): a workspace that cannot be created or
written is refused at start naming the path and the reason (the CLI: exit 2, one line, no
traceback); a disk that fills during a job fails the job "No space left on device", with
nothing half-written in S3 or describe.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import LocalSageMaker
from simulator.errors import SmsimError
from tests.support import cli_refusal

SMSIM = str(Path(sys.executable).parent / "smsim")
REPO = Path(__file__).resolve().parents[2]
DISK_FULL_DRIVER = Path(__file__).with_name("disk_full_driver.py")


@pytest.fixture
def under_a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker / "ws"


def test_local_sagemaker_refuses_a_workspace_under_a_regular_file(under_a_file):
    with pytest.raises(SmsimError) as err:
        LocalSageMaker(workspace=under_a_file).start()
    message = str(err.value)
    assert str(under_a_file) in message
    assert f"{under_a_file.parent} is a regular file" in message


def _inputs(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    for channel in ("train", "val"):
        (data / channel).mkdir(parents=True)
        (data / channel / "rows.csv").write_text("1,2\n")
    return data


def _pipeline_file(tmp_path: Path) -> Path:
    path = tmp_path / "p.json"
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    arguments = {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    step = {"Name": "Train", "Type": "Training", "Arguments": arguments}
    path.write_text(json.dumps({"Version": "2020-12-01", "Steps": [step]}))
    return path


COMMANDS = {
    "train": lambda tmp, ws: ["train", "--spec", "pytorch_training", "--input",
                              f"input_path={_inputs(tmp)}", "--workspace", str(ws)],
    "serve": lambda tmp, ws: ["serve", "--port", "0", "--workspace", str(ws)],
    "pipeline run": lambda tmp, ws: ["pipeline", "run", str(_pipeline_file(tmp)),
                                     "--workspace", str(ws)],
    "demo": lambda tmp, ws: ["demo", "--workspace", str(ws)],
    "jobs list": lambda tmp, ws: ["jobs", "list", "--workspace", str(ws)],
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_cli_says_in_one_line_why_the_workspace_is_unusable(tmp_path, under_a_file, command):
    line = cli_refusal([SMSIM, *COMMANDS[command](tmp_path, under_a_file)])
    assert str(under_a_file) in line and "directory" in line


def _private_mount(tmp_path: Path, options: str) -> list[str]:
    """argv prefix: a private mount namespace with a tmpfs (``options``) at tmp/mnt."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("mounting a tmpfs needs root and util-linux unshare")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs",
         "-o", options, "smsim-test", str(mnt)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {probe.stderr.strip()}")
    script = f'mount -t tmpfs -o {options} smsim-test "{mnt}" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def test_a_read_only_workspace_is_refused_at_start(tmp_path):
    prefix = _private_mount(tmp_path, "ro,size=1m")
    ws = tmp_path / "mnt"
    done = subprocess.run(
        [*prefix, SMSIM, "serve", "--port", "0", "--workspace", str(ws)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"workspace {ws}: cannot be written (Read-only file system)" in done.stderr


@pytest.mark.parametrize("case", ["script", "pack"])
def test_a_disk_filling_up_fails_the_job_with_nothing_half_written(tmp_path, case):
    prefix = _private_mount(tmp_path, "size=1m")
    done = subprocess.run(
        [*prefix, sys.executable, str(DISK_FULL_DRIVER), str(tmp_path / "mnt" / "ws"), case],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "Failed"
    assert "No space left on device" in result["reason"]
    assert result["stored_status"] == "Failed"  # describe.json whole, and the job's end
    assert "output/full/output/model.tar.gz" not in result["keys"]  # never half a model
