"""The step code of an assembled pipeline: where it lives in S3 and how it gets there.

A definition names its code by S3 URI, as the SageMaker SDK's does: processing scripts
under a prefix that a ``code`` ProcessingInput mounts, and a ``sourcedir.tar.gz`` the
training container downloads (``sagemaker_submit_directory``). The keys are content
addressed (a hash of the files), so new code gets a new key and an old definition keeps
pointing at the code it was built with — the SDK's uploads behave the same way. The
archive itself is :func:`simulator.s3.sourcedir_tarball`, the one packer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.pipeline.build.config import PipelineConfig
from simulator.requests import DEFAULT_SOURCE_DIR
from simulator.s3 import code_files, sourcedir_tarball


@dataclass(frozen=True)
class CodeLocations:
    """S3 URIs of the step code: a prefix for processing scripts, a sourcedir.tar.gz."""

    processing_prefix: str  # holds preprocess.py, evaluate.py and bsm/ (ends with "/")
    sourcedir: str  # sourcedir.tar.gz for the training job (sagemaker_submit_directory)
    # The training code when it is not the source dir (another trainer's, e.g.
    # dockers/xgboost_bsm): what sourcedir.tar.gz is packed from.
    training_dir: Path | None = None


def code_locations(
    config: PipelineConfig, source_dir: Path | None = None, training_dir: Path | None = None
) -> CodeLocations:
    """Content-addressed code URIs under the config's code prefix (new code → new key)."""
    source_dir = _source(source_dir)
    digest = hashlib.sha256()
    for root, tag in ((source_dir, ""), (training_dir, "training/")):
        for path in code_files(root) if root is not None else []:
            digest.update((tag + path.relative_to(root).as_posix()).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    base = f"{config.code_prefix_uri}/{digest.hexdigest()[:16]}"
    return CodeLocations(
        processing_prefix=f"{base}/processing/",
        sourcedir=f"{base}/sourcedir.tar.gz",
        training_dir=training_dir,
    )


def code_objects(
    locations: CodeLocations, source_dir: Path | None = None
) -> Iterator[tuple[str, bytes]]:
    """Every code object the definition names: (S3 URI, bytes), the archive first."""
    source_dir = _source(source_dir)
    yield locations.sourcedir, sourcedir_tarball(locations.training_dir or source_dir)
    for path in code_files(source_dir):
        rel = path.relative_to(source_dir).as_posix()
        yield locations.processing_prefix + rel, path.read_bytes()


def upload_code(
    s3_client: Any, locations: CodeLocations, source_dir: Path | None = None
) -> list[str]:
    """Upload the step code to ``locations`` with a boto3 S3 client; return the URIs written."""
    return [_put(s3_client, uri, body) for uri, body in code_objects(locations, source_dir)]


def write_code(
    locations: CodeLocations, out_dir: Path, source_dir: Path | None = None
) -> list[Path]:
    """Write the code objects under ``out_dir/<bucket>/<key>`` (for ``aws s3 sync``)."""
    return [_write(Path(out_dir), uri, body) for uri, body in code_objects(locations, source_dir)]


def _put(s3_client: Any, uri: str, body: bytes) -> str:
    bucket, key = _split_s3(uri)
    s3_client.put_object(Bucket=bucket, Key=key, Body=body)
    return uri


def _write(out_dir: Path, uri: str, body: bytes) -> Path:
    bucket, key = _split_s3(uri)
    target = out_dir / bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return target


def _source(source_dir: Path | None) -> Path:
    return Path(source_dir) if source_dir is not None else DEFAULT_SOURCE_DIR


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
