"""A training job's code: ``sagemaker_submit_directory`` staged into ``/opt/ml/code``.

The SDK uploads the user's source dir as ``sourcedir.tar.gz`` and names it in the
``sagemaker_submit_directory`` hyperparameter; the training toolkit downloads and unpacks
it into ``/opt/ml/code`` before it runs the entry point (``sagemaker_training.files
.download_and_extract``). An S3 prefix is downloaded as is; local mode's ``file://`` URIs
and local paths (a directory or a ``.tar.gz``) are taken from this machine.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from simulator.jobs.training.checks import file_uri_path
from simulator.s3 import S3Error, download_object, download_prefix, parse_s3_uri, unpack_tar_gz

FIELD = "HyperParameters.sagemaker_submit_directory"


def stage_submit_directory(s3: Any, submit: Any, code: Path, scratch: Path) -> None:
    """Put the code ``submit`` names into ``code``; ``scratch``: where a downloaded archive
    may be kept while it is unpacked."""
    local = file_uri_path(submit) or Path(str(submit)).expanduser()
    if isinstance(submit, str) and submit.startswith("s3://"):
        uri = parse_s3_uri(submit, FIELD)
        if uri.key.endswith((".tar.gz", ".tgz")):
            with tempfile.TemporaryDirectory(dir=scratch) as tmp:
                archive = download_object(s3, uri, Path(tmp) / "sourcedir.tar.gz")
                unpack_tar_gz(archive, code)
        else:
            download_prefix(s3, uri, code)
    elif local.is_dir():
        shutil.copytree(
            local,
            code,
            dirs_exist_ok=True,
            symlinks=False,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    elif local.is_file() and local.name.endswith((".tar.gz", ".tgz")):
        unpack_tar_gz(local, code)
    else:
        raise S3Error(
            f"{FIELD} {submit!r} is neither an S3 URI nor an existing local directory or .tar.gz"
        )
