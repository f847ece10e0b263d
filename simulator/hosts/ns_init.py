"""The first program of a host's mount namespace: lays out ``/opt`` and execs the entry point.

Run by ``hosts/namespace.py`` as ``python -I -S ns_init.py TREE HOSTS_FILE WORKDIR LC_CTYPE
ARGV...``
inside ``unshare --mount``; standard library only, nothing imported from smsim. Python
rather than a shell prologue because ``exec`` from here hands the environment on byte
for byte: dash drops variables whose names are not shell identifiers
(``SM_HP_LEARNING-RATE``), bash adds its own (``SHLVL``, ``_``) and reads ``BASH_ENV``.

1. ``chdir("/opt")``, then a tmpfs over ``/opt``: the cwd still holds the original
   directory, so each original entry is bound back by a relative path;
2. ``/opt/ml`` made in the tmpfs and the host tree bound there;
3. the private hosts file bound over ``/etc/hosts`` (when given);
4. ``chdir(WORKDIR)`` and ``execv``: same pid, so the launcher's process group,
   signals and exit code are the entry point's own.

``LC_CTYPE`` is the variable's value as the launcher passed it (``-`` when unset): Python
coerces a C locale by setting ``LC_CTYPE`` in its own environment (PEP 538), which is
undone before the entry point gets it.
"""

from __future__ import annotations

import ctypes
import os
import sys

MS_BIND = 4096
MS_REC = 16384
SETUP_FAILED = 125

# The process's own symbols hold libc's mount(2) (ctypes.util.find_library would spawn
# ldconfig: ~100 ms per host start).
_libc = ctypes.CDLL(None, use_errno=True)


def fail(message: str) -> None:
    sys.stderr.write(f"smsim namespace setup: {message}\n")
    sys.stderr.flush()
    os._exit(SETUP_FAILED)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    result = _libc.mount(
        source.encode(),
        target.encode(),
        fstype.encode() if fstype else None,
        flags,
        data.encode() if data else None,
    )
    if result != 0:
        err = ctypes.get_errno()
        fail(f"mount {source} on {target}: {os.strerror(err)}")


def bind_back(name: str) -> None:
    """Bind the original ``/opt/<name>`` (relative to the covered cwd) into the tmpfs."""
    target = "/opt/" + name
    if os.path.islink(name):
        os.symlink(os.readlink(name), target)
        return
    if os.path.isdir(name):
        os.mkdir(target)
    else:
        open(target, "w").close()  # noqa: SIM115 - a mount point for a file
    mount(name, target, None, MS_BIND | MS_REC, None)


def _which(name: str) -> str | None:
    """The first executable ``name`` on PATH (shutil.which's import costs a host start)."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def main(argv: list[str]) -> None:
    if len(argv) < 5:
        fail("usage: ns_init.py TREE HOSTS_FILE WORKDIR LC_CTYPE ARGV...")
    tree, hosts_file, workdir, lc_ctype, command = argv[0], argv[1], argv[2], argv[3], argv[4:]
    if lc_ctype == "-":
        os.environ.pop("LC_CTYPE", None)
    else:
        os.environ["LC_CTYPE"] = lc_ctype[1:]
    try:
        os.chdir("/opt")
    except OSError as exc:
        fail(f"no /opt: {exc}")
    mount("smsim-opt", "/opt", "tmpfs", 0, "mode=0755")
    for name in sorted(os.listdir(".")):  # "." is the original /opt, now covered
        if name != "ml":
            bind_back(name)
    os.mkdir("/opt/ml")
    mount(tree, "/opt/ml", None, MS_BIND | MS_REC, None)
    if hosts_file:
        mount(hosts_file, "/etc/hosts", None, MS_BIND, None)
    try:
        os.chdir(workdir)
    except OSError as exc:
        fail(f"no working directory {workdir}: {exc}")
    path = command[0]
    if "/" not in path:
        found = _which(path)
        if found is None:
            sys.stderr.write(f"exec: {path}: not found\n")
            os._exit(127)
        path = found
    try:
        os.execv(path, command)
    except OSError as exc:
        sys.stderr.write(f"exec: {path}: {exc.strerror}\n")
        os._exit(126 if exc.errno == 13 else 127)


if __name__ == "__main__":
    main(sys.argv[1:])
