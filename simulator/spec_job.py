"""One training job from a step spec, as `smsim train` runs it.

Its inputs and code are staged in the embedded S3 the way the SageMaker Python SDK
stages them (the SDK's default bucket ``sagemaker-<region>-<account>``; the source dir
as ``sourcedir.tar.gz``, :func:`simulator.s3.upload_sourcedir`), the request comes from
:func:`simulator.requests.training_request`, the job runs on
:class:`simulator.session.LocalSageMaker`, and every spec output is resolved against its
description (:mod:`simulator.outputs`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.outputs import resolve_outputs
from simulator.requests import (
    REQUIRED_CHANNELS,
    TRAINING_CHANNELS,
    TRAINING_IMAGE,
    JobSettings,
    image_uri,
    role_arn,
    training_request,
)
from simulator.s3 import S3Uri, ensure_bucket, parse_s3_uri, upload_dir, upload_sourcedir
from specs.base import StepSpecification


class InputError(SmsimError):
    """An option's value cannot be used; ``option`` names it (e.g. ``--input``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option
        self.message = message


def default_job_name(spec: StepSpecification) -> str:
    """``<step-type>-<timestamp>``, as the SDK names jobs (base name + timestamp)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    base = re.sub(r"[^a-zA-Z0-9]+", "-", spec.step_type).strip("-").lower()
    return f"{base}-{stamp}"[:63]


def check_input_dir(input_value: str) -> None:
    """A local input must be a directory with train/ and val/ (test/ optional)."""
    if input_value.startswith("s3://"):
        return
    local = Path(input_value).expanduser()
    if not local.is_dir():
        raise InputError(
            "--input",
            f"{input_value!r} is neither an existing directory nor an s3:// URI; give a "
            "directory holding train/ and val/ (and test/) subfolders",
        )
    missing = [ch for ch in REQUIRED_CHANNELS if not (local / ch).is_dir()]
    if missing:
        raise InputError(
            "--input",
            f"{local} has no {', '.join(missing)}/ subfolder(s); expected train/, val/ (and test/)",
        )


def stage_channels(sm: Any, input_value: str, bucket: str, job_name: str) -> dict[str, str]:
    """Channel URIs for train/val/test: a local dir's subfolders are uploaded first."""
    if input_value.startswith("s3://"):
        root = parse_s3_uri(input_value, "--input")
        channels = {
            ch: str(root.join(ch)) for ch in TRAINING_CHANNELS if _s3_has(sm, root.join(ch))
        }
        missing = [ch for ch in REQUIRED_CHANNELS if ch not in channels]
        if missing:
            raise InputError(
                "--input",
                f"no objects under {', '.join(str(root.join(ch)) + '/' for ch in missing)} in "
                "the embedded S3, which starts empty in every smsim run; give a local directory "
                "with train/ and val/ (and test/) subfolders instead: smsim uploads it",
            )
        return channels
    check_input_dir(input_value)
    local = Path(input_value).expanduser()
    channels = {}
    for ch in TRAINING_CHANNELS:
        if (local / ch).is_dir():
            target = S3Uri(bucket, f"smsim/{job_name}/input/{ch}")
            upload_dir(sm.s3, local / ch, target)
            channels[ch] = str(target)
    return channels


def _s3_has(sm: Any, uri: S3Uri) -> bool:
    resp = sm.s3.list_objects_v2(Bucket=uri.bucket, Prefix=uri.key, MaxKeys=1)
    return resp.get("KeyCount", 0) > 0


def run_training_spec(
    spec: StepSpecification,
    input_value: str,
    hyperparameters: dict[str, Any],
    *,
    name: str,
    output_path: str | None,
    checkpoint_s3_uri: str | None,
    max_runtime: int,
    source_dir: Path,
    image: str | None,
    workspace: Path,
    on_start: Callable[[str], None] | None = None,
    faults: Path | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Stage inputs and code, run the job to its end; (description, resolved outputs).
    ``faults``: a fault plan to inject (simulator.faults; $SMSIM_FAULTS when None)."""
    from simulator.session import LocalSageMaker

    contract = spec.script_contract
    with LocalSageMaker(workspace=workspace, faults=faults) as sm:
        bucket = f"sagemaker-{sm.region}-{sm.account_id}"  # the SDK's default bucket
        ensure_bucket(sm.s3, bucket)
        for option, uri in (
            ("--output-path", output_path),
            ("--checkpoint-s3-uri", checkpoint_s3_uri),
            ("--input", input_value),
        ):
            if uri and (option != "--input" or uri.startswith("s3://")):
                ensure_bucket(sm.s3, parse_s3_uri(uri, option).bucket)
        channels = stage_channels(sm, input_value, bucket, name)
        code = S3Uri(bucket, f"{name}/source/sourcedir.tar.gz")
        code_uri = upload_sourcedir(sm.s3, source_dir, code)
        request = training_request(
            contract,
            job_name=name,
            channels=channels,
            hyperparameters=hyperparameters,
            code_uri=code_uri,
            output_path=output_path or f"s3://{bucket}/",
            settings=JobSettings(
                image=image or image_uri(TRAINING_IMAGE, sm.region),
                role_arn=role_arn(sm.account_id),
                region=sm.region,
                max_runtime_seconds=max_runtime,
            ),
            checkpoint_uri=checkpoint_s3_uri,
        )
        sm.create_training_job(**request)
        if on_start is not None:
            on_start(name)
        desc = sm.wait_for_training_job(name)
        return desc, resolve_outputs(spec, desc)
