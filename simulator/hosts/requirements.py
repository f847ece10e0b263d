"""A staged ``requirements.txt``: checked offline against the image's interpreter.

On SageMaker the training toolkit (and the SDK's ``runproc.sh`` for a FrameworkProcessor)
``pip install -r requirements.txt`` before the script runs, from PyPI. smsim installs
nothing: it is offline, and every job of an image shares that image's interpreter. So
the requirements are checked instead (``pip install --no-index --dry-run``: satisfied by
what is installed, nothing changed), and where they are not, the job fails before the
script runs with what is missing and how to give the image an interpreter that has it.
"""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import SmsimError

SOURCEDIR_TAR = "sourcedir.tar.gz"
REQUIREMENTS = "requirements.txt"
CHECK_TIMEOUT = 300.0


@dataclass(frozen=True)
class RequirementsCheck:
    """The outcome: ``ok``; ``detail`` is pip's own words (or why nothing was checked)."""

    ok: bool
    detail: str


def check(requirements: Path, interpreter: str) -> RequirementsCheck:
    """Whether ``interpreter`` already satisfies ``requirements`` (nothing is installed)."""
    argv = [
        interpreter,
        "-m",
        "pip",
        "install",
        "--no-index",
        "--dry-run",
        "-q",
        "-r",
        str(requirements),
    ]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            stdin=subprocess.DEVNULL,
            cwd=requirements.parent,  # -r lines may name files next to it
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return RequirementsCheck(True, f"not checked ({interpreter} -m pip: {exc})")
    if done.returncode == 0:
        return RequirementsCheck(True, "already satisfied by the image's interpreter")
    if "No module named pip" in done.stderr:
        return RequirementsCheck(True, f"not checked ({interpreter} has no pip)")
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")] or lines[-3:]
    return RequirementsCheck(False, " ".join(errors)[:600])


def failure_message(
    where: str, interpreter: str, image: str | None, images_source: str, detail: str
) -> str:
    """The job's FailureReason when the requirements are not met (says what and how)."""
    key = image or "<image uri>"
    return (
        f"{where} lists packages the image's interpreter {interpreter} does not "
        f"have ({detail}). smsim installs nothing (offline; every job of an image shares its "
        "interpreter): point the image at a virtualenv that has them, in the images map "
        f'(<workspace>/images.json, $SMSIM_IMAGES or LocalSageMaker(images=...)): {{"{key}": '
        f'"/path/to/venv/bin/python"}} (images map in use: {images_source})'
    )


def require(
    path: Path,
    where: str,
    interpreter: str,
    image: str | None,
    images_source: str,
    log: Callable[[str], None],
) -> None:
    """Check ``path`` against the interpreter: raise the job's failure, or log that it is met."""
    result = check(path, interpreter)
    if not result.ok:
        raise SmsimError(failure_message(where, interpreter, image, images_source, result.detail))
    log(f"{where}: {result.detail}")


def requirements_in_sourcedir(archive: Path, dest_dir: Path) -> Path | None:
    """The top-level ``requirements.txt`` of a staged ``sourcedir.tar.gz``, extracted to
    ``dest_dir`` (the FrameworkProcessor's runproc.sh installs it after unpacking)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.lstrip("./") == REQUIREMENTS:
                    source = tar.extractfile(member)
                    if source is None:
                        return None
                    dest_dir.mkdir(parents=True, exist_ok=True)
                    target = dest_dir / REQUIREMENTS
                    with source, open(target, "wb") as out:
                        out.write(source.read())
                    return target
    except (OSError, tarfile.TarError, EOFError):
        return None
    return None


def staged_sourcedir_requirements(tree: Path, scratch: Path) -> list[tuple[Path, Path]]:
    """(archive, its requirements.txt extracted under ``scratch``) for each staged
    sourcedir.tar.gz of the host tree that has one."""
    found: list[tuple[Path, Path]] = []
    for i, archive in enumerate(sorted(tree.rglob(SOURCEDIR_TAR))):
        extracted = requirements_in_sourcedir(archive, scratch / str(i))
        if extracted is not None:
            found.append((archive, extracted))
    return found
