"""model.tar.gz / output.tar.gz of a training job: every host's directory in one archive.

SageMaker aggregates what each host writes to ``/opt/ml/model`` (and ``/opt/ml/output/data``)
into one TAR file ("if multiple containers in a single training job write to this
directory they should ensure no file/directory names clash"). smsim's rule for a clash:
the first host's copy (algo-1, the toolkits' master) is kept, and each clash is logged.
The run uploads the archive (``simulator.s3.upload_file``: whole or absent).
"""

from __future__ import annotations

from pathlib import Path

from simulator.s3 import pack_tar_gz_merged


def pack_artifacts(hosts: tuple[str, ...], sources: list[Path], archive: Path) -> list[str]:
    """Pack ``sources`` (one directory per host, in ``hosts`` order) into ``archive``; a
    warning for the job's log for each name that two hosts wrote."""
    for src in sources:
        src.mkdir(parents=True, exist_ok=True)
    warnings = []
    for path, index in pack_tar_gz_merged(sources, archive):
        kept = next(h for h, s in zip(hosts, sources, strict=True) if (s / path).is_file())
        warnings.append(
            f"warning: {archive.name}: {path} is written by {kept} and {hosts[index]}; "
            f"{kept}'s copy kept (SageMaker asks hosts to avoid clashing names)"
        )
    return warnings
