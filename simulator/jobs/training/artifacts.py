"""model.tar.gz / output.tar.gz of a training job: every host's directory in one archive.

SageMaker aggregates what each host writes to ``/opt/ml/model`` (and ``/opt/ml/output/data``)
into one TAR file ("if multiple containers in a single training job write to this
directory they should ensure no file/directory names clash"). smsim's rule for a clash:
the first host's copy (algo-1, the toolkits' master) is kept, and each clash is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.s3 import S3Uri, pack_tar_gz_merged, upload_file


def pack_and_upload(
    s3: Any,
    hosts: tuple[str, ...],
    sources: list[Path],
    archive: Path,
    target: S3Uri,
    log: Callable[[str], None],
) -> None:
    """Pack ``sources`` (one directory per host, in ``hosts`` order) into ``archive`` and
    upload it whole to ``target``."""
    for src in sources:
        src.mkdir(parents=True, exist_ok=True)
    clashes = pack_tar_gz_merged(sources, archive)
    for path, index in clashes:
        kept = next(h for h, s in zip(hosts, sources, strict=True) if (s / path).is_file())
        log(
            f"warning: {archive.name}: {path} is written by {kept} and {hosts[index]}; "
            f"{kept}'s copy kept (SageMaker asks hosts to avoid clashing names)"
        )
    upload_file(s3, archive, target)
    log(f"uploaded {target}")
