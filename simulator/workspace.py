"""A usable workspace, checked when a simulator starts, and space kept for a job's record.

A workspace that cannot be created or written (a path under a regular file, a
read-only directory or file system, a full disk) would otherwise fail deep inside the
first job with a raw ``NotADirectoryError``; here it is refused at start, naming the
path and the reason (#17).

A full disk must not leave a job InProgress for ever: the job's end has to be written
to ``describe.json``, and with no free byte even a small file cannot be. Each job keeps
a small reserve file (``RESERVE``), given up when a record write meets ENOSPC so that
the final description still lands.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from simulator.errors import SmsimError

RESERVE = ".space-reserve"
RESERVE_BYTES = 64 * 1024  # a Describe* document is a few KiB; a few rewrites fit


class WorkspaceError(SmsimError):
    """The workspace cannot be used; the message names the path and the reason."""


def check_workspace(path: Path) -> Path:
    """Create ``path`` if needed and prove it writable; WorkspaceError otherwise."""
    fix = "pass a directory you can write to (--workspace / LocalSageMaker(workspace=…))"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WorkspaceError(f"workspace {path}: it is a file, not a directory; {fix}") from None
    except NotADirectoryError:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), path)
        raise WorkspaceError(
            f"workspace {path}: cannot be created, {blocker} is a regular file, not a "
            f"directory; {fix}"
        ) from None
    except OSError as exc:
        raise WorkspaceError(
            f"workspace {path}: cannot be created ({exc.strerror}); {fix}"
        ) from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".smsim-write-probe-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise WorkspaceError(
            f"workspace {path}: cannot be written ({exc.strerror}); {fix}"
        ) from None
    return path


def reserve_space(directory: Path) -> None:
    """Keep ``RESERVE_BYTES`` for the job's records (best effort: a full disk skips it)."""
    try:
        (directory / RESERVE).write_bytes(b"\0" * RESERVE_BYTES)
    except OSError:
        (directory / RESERVE).unlink(missing_ok=True)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def release_reserve(directory: Path) -> bool:
    """Give the reserve back to the disk; whether there was one."""
    try:
        (directory / RESERVE).unlink()
    except OSError:
        return False
    return True
