"""The step code of an assembled pipeline: where it lives in S3 and how it gets there.

A definition names its code by S3 URI, as the SageMaker SDK's does: processing scripts
under a prefix that a ``code`` ProcessingInput mounts, and a ``sourcedir.tar.gz`` the
training container downloads (``sagemaker_submit_directory``). The keys are content
addressed (a hash of the files), so new code gets a new key and an old definition keeps
pointing at the code it was built with — the SDK's uploads behave the same way.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.pipeline.build.config import PipelineConfig
from simulator.requests import DEFAULT_SOURCE_DIR
from simulator.s3 import S3Uri

# Files of the source dir never shipped as code.
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class CodeLocations:
    """S3 URIs of the step code: a prefix for processing scripts, a sourcedir.tar.gz."""

    processing_prefix: str  # holds preprocess.py, evaluate.py and bsm/ (ends with "/")
    sourcedir: str  # sourcedir.tar.gz for the training job (sagemaker_submit_directory)


def code_files(source_dir: Path | None = None) -> list[Path]:
    """Files of the source dir to ship, sorted (caches and compiled files left out)."""
    source_dir = _source(source_dir)
    if not source_dir.is_dir():
        raise ValidationError(
            "step code",
            [
                Problem(
                    "source_dir", "not a directory", str(source_dir), "point at dockers/pytorch_bsm"
                )
            ],
        )
    return sorted(
        p
        for p in source_dir.rglob("*")
        if p.is_file()
        and not _SKIP_PARTS.intersection(p.relative_to(source_dir).parts)
        and p.suffix not in (".pyc", ".pyo")
    )


def sourcedir_tarball(source_dir: Path | None = None) -> bytes:
    """sourcedir.tar.gz of the source dir, byte-identical for identical files.

    Fixed mtimes, owners and order make the archive (and so its content hash and
    S3 key) depend on the code only, as the SDK's content-addressed code keys do.
    """
    source_dir = _source(source_dir)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in code_files(source_dir):
            info = tarfile.TarInfo(path.relative_to(source_dir).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def upload_sourcedir(s3_client: Any, source_dir: Path, prefix: S3Uri) -> str:
    """Upload ``source_dir`` as ``<prefix>/sourcedir.tar.gz`` (the SDK's code upload).

    One PUT of the finished archive: the object is whole or absent, never half-written.
    Returns its URI, the ``sagemaker_submit_directory`` of a training request.
    """
    target = prefix.join("sourcedir.tar.gz")
    s3_client.put_object(Bucket=target.bucket, Key=target.key, Body=sourcedir_tarball(source_dir))
    return str(target)


def code_locations(config: PipelineConfig, source_dir: Path | None = None) -> CodeLocations:
    """Content-addressed code URIs under the config's code prefix (new code → new key)."""
    source_dir = _source(source_dir)
    digest = hashlib.sha256()
    for path in code_files(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    base = f"{config.code_prefix_uri}/{digest.hexdigest()[:16]}"
    return CodeLocations(
        processing_prefix=f"{base}/processing/", sourcedir=f"{base}/sourcedir.tar.gz"
    )


def code_objects(
    locations: CodeLocations, source_dir: Path | None = None
) -> Iterator[tuple[str, bytes]]:
    """Every code object the definition names: (S3 URI, bytes), the archive first."""
    source_dir = _source(source_dir)
    yield locations.sourcedir, sourcedir_tarball(source_dir)
    for path in code_files(source_dir):
        rel = path.relative_to(source_dir).as_posix()
        yield locations.processing_prefix + rel, path.read_bytes()


def upload_code(
    s3_client: Any, locations: CodeLocations, source_dir: Path | None = None
) -> list[str]:
    """Upload the step code to ``locations`` with a boto3 S3 client; return the URIs written."""
    written = []
    for uri, body in code_objects(locations, source_dir):
        bucket, key = _split_s3(uri)
        s3_client.put_object(Bucket=bucket, Key=key, Body=body)
        written.append(uri)
    return written


def write_code(
    locations: CodeLocations, out_dir: Path, source_dir: Path | None = None
) -> list[Path]:
    """Write the code objects under ``out_dir/<bucket>/<key>`` (for ``aws s3 sync``)."""
    written = []
    for uri, body in code_objects(locations, source_dir):
        bucket, key = _split_s3(uri)
        target = Path(out_dir) / bucket / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written.append(target)
    return written


def _source(source_dir: Path | None) -> Path:
    return Path(source_dir) if source_dir is not None else DEFAULT_SOURCE_DIR


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
