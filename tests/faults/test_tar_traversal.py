"""Archives that try to write outside their directory (#17): dot-dot, absolute, symlink and
hardlink members, in a sourcedir.tar.gz given to a training job and in a model.tar.gz given
to CreateModel and a transform job. Each is refused with an error naming the member, and
nothing is written outside the job's tree."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from simulator.errors import SmsimError
from simulator.s3 import unpack_tar_gz

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310"
SCRIPT = b"print('the script ran')\n"


def _member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.linkname = link
    info.mode = 0o644
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def _archive(members: list[tuple[tarfile.TarInfo, Any]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, body in members:
            tar.addfile(info, body)
    return buf.getvalue()


def _attacks(outside: Path) -> dict[str, tuple[list[Any], str]]:
    """name → (archive members, what the error names). ``outside`` must stay empty."""
    victim = outside / "victim.txt"
    return {
        "dot-dot": (
            [
                _member("train.py", data=SCRIPT),
                _member("../" * 12 + f"{outside}/dotdot.txt", data=b"x"),
            ],
            "unsafe member '",
        ),
        "nested-dot-dot": (
            [_member("train.py", data=SCRIPT), _member("sub/../../escaped.txt", data=b"x")],
            "unsafe member '",
        ),
        "absolute": (
            [_member("train.py", data=SCRIPT), _member(f"{outside}/absolute.txt", data=b"x")],
            "unsafe member '",
        ),
        "symlink": (
            [
                _member("train.py", data=SCRIPT),
                _member("out", tarfile.SYMTYPE, link=str(outside)),
                _member("out/through-link.txt", data=b"x"),
            ],
            "unsafe member in sourcedir.tar.gz: 'out' is a link to an absolute path",
        ),
        "relative-symlink": (
            [
                _member("train.py", data=SCRIPT),
                _member("up", tarfile.SYMTYPE, link="../" * 40),
                _member(f"up{outside}/through-relative-link.txt", data=b"x"),
            ],
            "unsafe member in sourcedir.tar.gz: 'up' would link to '/'",
        ),
        "hardlink": (
            [
                _member("train.py", data=SCRIPT),
                _member("hard", tarfile.LNKTYPE, link=str(victim)),
            ],
            "unsafe member in sourcedir.tar.gz: 'hard' is a link to an absolute path",
        ),
    }


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory no archive may touch, holding one file a hardlink may aim at."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim.txt").write_text("untouched")
    return d


def _untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert (outside / "victim.txt").read_text() == "untouched"
    assert (outside / "victim.txt").stat().st_nlink == 1  # no hardlink made to it


@pytest.mark.parametrize("attack", sorted(_attacks(Path("/x"))))
def test_unpacking_refuses_each_attack(tmp_path, outside, attack):
    members, named = _attacks(outside)[attack]
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_archive(members))
    dest = tmp_path / "dest"
    with pytest.raises(SmsimError) as refused:
        unpack_tar_gz(archive, dest)
    assert named.replace("sourcedir.tar.gz", "a.tar.gz") in str(refused.value)
    assert "rebuild" in str(refused.value)  # the fix
    _untouched(outside)
    # Nothing beside dest either (a dot-dot member resolves next to it).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz", "dest", "outside"]


@pytest.mark.parametrize("attack", sorted(_attacks(Path("/x"))))
def test_a_training_job_with_such_a_sourcedir_fails_and_writes_nothing_outside(
    sm, bucket, training_request, outside, attack, tmp_path
):
    members, named = _attacks(outside)[attack]
    sm.s3.put_object(Bucket=bucket, Key=f"code/{attack}.tar.gz", Body=_archive(members))
    name = f"tar-{attack}"
    sm.create_training_job(**training_request(name, f"s3://{bucket}/code/{attack}.tar.gz"))
    desc = sm.wait_for_training_job(name, timeout=120)
    assert desc["TrainingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: ")
    assert named in desc["FailureReason"] and "sourcedir.tar.gz" in desc["FailureReason"]
    log = sm.workspace / "jobs" / name / "logs"
    assert (
        not (log / "algo-1.log").exists()
        or "the script ran" not in (log / "algo-1.log").read_text()
    )
    _untouched(outside)
    job_root = sm.workspace / "jobs" / name
    # Nothing escaped next to the job's tree either.
    assert not list(sm.workspace.rglob("escaped.txt"))
    assert not list(tmp_path.rglob("dotdot.txt")) and not list(tmp_path.rglob("absolute.txt"))
    assert job_root.is_dir()


def _create_model(sm: Any, bucket: str, name: str, body: bytes) -> None:
    sm.s3.put_object(Bucket=bucket, Key=f"models/{name}.tar.gz", Body=body)
    sm.client.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{bucket}/models/{name}.tar.gz"},
    )


@pytest.mark.parametrize("attack", ["dot-dot", "absolute", "symlink", "hardlink"])
def test_a_transform_job_with_such_a_model_fails_and_writes_nothing_outside(
    sm, bucket, put_s3, outside, attack
):
    members, named = _attacks(outside)[attack]
    _create_model(sm, bucket, f"model-{attack}", _archive(members))
    put_s3("in/a.csv", "1\n")
    name = f"transform-{attack}"
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=f"model-{attack}",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/in/"}
            },
            "ContentType": "text/csv",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/out-{attack}"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    desc = sm.wait_for_transform_job(name, timeout=120)
    assert desc["TransformJobStatus"] == "Failed"
    assert named.replace("sourcedir.tar.gz", "model.tar.gz") in desc["FailureReason"]
    _untouched(outside)
    listed = sm.s3.list_objects_v2(Bucket=bucket, Prefix=f"out-{attack}")
    assert listed.get("KeyCount", 0) == 0  # no output of a model that never loaded
