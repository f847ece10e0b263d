"""A private mount namespace per host: its tree at ``/opt/ml``, its own ``/etc/hosts``.

On a SageMaker instance the container sees its volume at ``/opt/ml`` and the cluster's
hosts (``algo-1`` … ``algo-N``) by name. Here each host's process starts under util-linux
``unshare --mount`` (``unshare --user --map-root-user --mount`` for an ordinary user,
where the kernel allows unprivileged user namespaces); its first program,
``ns_init.py``, lays a tmpfs over ``/opt``, binds the original entries back, binds the
host tree at ``/opt/ml`` and a private ``/etc/hosts`` (the machine's lines plus
``127.0.0.k algo-k``), then execs the entry point in the container's working directory.

The mounts are private to the namespace (``--propagation private``): the machine sees
no ``/opt/ml`` and an unchanged ``/etc/hosts``. Without root the process is uid 0 inside
its user namespace (as in a SageMaker container) and the real user outside: files it
writes belong to the user.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from simulator.hosts.layout import CONTAINER_ROOT

INIT = Path(__file__).with_name("ns_init.py")
SETUP_FAILED = 125  # the prologue's exit code: the namespace, not the entry point, failed


@dataclass(frozen=True)
class NamespaceSupport:
    """Whether a host can run in a private mount namespace here, and why (not)."""

    available: bool
    reason: str
    unshare: tuple[str, ...] = ()


def unshare_prefix(unshare: str, as_root: bool) -> tuple[str, ...]:
    """``unshare -m`` for root; ``-U -r`` (a user namespace, mapped to root) otherwise."""
    flags = ("--mount", "--propagation", "private")
    if not as_root:
        flags = ("--user", "--map-root-user", *flags)
    return (unshare, *flags)


def wrap(
    support: NamespaceSupport,
    tree: Path,
    argv: list[str],
    cwd: str,
    hosts_file: Path | None,
    env: dict[str, str],
) -> list[str]:
    """``argv`` started in a namespace where ``tree`` is ``/opt/ml`` and cwd is ``cwd``
    (``env``: the environment it is started with; see ns_init's LC_CTYPE)."""
    hosts = str(hosts_file) if hosts_file is not None else ""
    lc_ctype = "=" + env["LC_CTYPE"] if "LC_CTYPE" in env else "-"
    # -I: no PYTHON* variable of the job changes how the init itself runs; -S: no site.
    init = [sys.executable, "-I", "-S", str(INIT), str(tree), hosts, cwd, lc_ctype]
    return [*support.unshare, "--", *init, *argv]


def etc_hosts(
    hosts: list[str], base: str | None = None, addresses: Mapping[str, str] | None = None
) -> str:
    """The machine's ``/etc/hosts`` plus ``127.0.0.k algo-k`` for each host of the job:
    every host reaches every other by its SageMaker name (they all run on this machine).
    ``addresses``: host → its address where the hosts run on other machines (Ray nodes)."""
    if base is None:
        try:
            base = Path("/etc/hosts").read_text()
        except OSError:
            base = "127.0.0.1\tlocalhost\n"
    lines = [base.rstrip("\n"), "# smsim: the job's hosts"]
    lines += [
        f"{(addresses or {}).get(name) or loopback_address(name, k)}\t{name}"
        for k, name in enumerate(hosts, start=1)
    ]
    return "\n".join(lines) + "\n"


def loopback_address(host: str, position: int) -> str:
    """``algo-k`` → ``127.0.0.k`` (by its number, whatever the order of the list: SageMaker
    sorts hosts lexicographically, algo-10 before algo-2); other names by position."""
    _, _, number = host.rpartition("-")
    k = int(number) if host.startswith("algo-") and number.isdigit() else position
    return f"127.0.0.{k}"


def write_etc_hosts(
    path: Path, hosts: list[str], addresses: Mapping[str, str] | None = None
) -> Path:
    """Write the private ``/etc/hosts`` atomically (hosts of one job may start together)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(etc_hosts(hosts, addresses=addresses))
    tmp.replace(path)
    return path


@functools.cache
def probe() -> NamespaceSupport:
    """Try the real set-up once per process (a few milliseconds) with a throw-away tree."""
    if not sys.platform.startswith("linux"):
        return NamespaceSupport(False, f"mount namespaces are Linux-only (this is {sys.platform})")
    unshare = shutil.which("unshare")
    if unshare is None:
        return NamespaceSupport(False, "util-linux `unshare` is not on PATH")
    if not Path("/opt").is_dir():
        return NamespaceSupport(
            False, "/opt does not exist: there is nothing to lay /opt/ml under without creating it"
        )
    as_root = os.geteuid() == 0
    prefix = unshare_prefix(unshare, as_root)
    how = "`unshare -m` as root" if as_root else "`unshare -Urm` (unprivileged user namespace)"
    with tempfile.TemporaryDirectory(prefix="smsim-ns-probe-") as tmp:
        tree = Path(tmp) / "tree"
        (tree / "code").mkdir(parents=True)
        (tree / "code" / "probe").write_text("ok")
        hosts = write_etc_hosts(Path(tmp) / "etc-hosts", ["algo-1"])
        support = NamespaceSupport(True, how, prefix)
        command = ["/bin/sh", "-c", "cat probe; grep -c algo-1 /etc/hosts"]
        argv = wrap(support, tree, command, f"{CONTAINER_ROOT}/code", hosts, dict(os.environ))
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return NamespaceSupport(False, f"{how} could not run: {exc}")
    if done.returncode != 0 or not done.stdout.startswith("ok"):
        err = " ".join(done.stderr.split())[:300] or f"exit code {done.returncode}"
        hint = (
            ""
            if as_root
            else (
                " (unprivileged user namespaces may be disabled: "
                "sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)"
            )
        )
        return NamespaceSupport(False, f"{how} failed: {err}{hint}")
    return support
