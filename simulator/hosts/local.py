"""The local launcher: each host is a subprocess of this machine, in one of two modes.

* ``namespace``: the process runs in a private mount namespace where its host tree is
  ``/opt/ml`` and ``/etc/hosts`` names the job's hosts (``hosts/namespace.py``): every
  program, shell or native, sees the container's layout.
* ``fallback``: where no namespace can be made, the process gets the tree's real path:
  ``/opt/ml`` rewritten in arguments, ``-c`` strings, staged shell scripts and the
  request's environment values (``hosts/shell_remap.py``), ``SAGEMAKER_BASE_DIR`` set
  (the training toolkit's own override of ``/opt/ml``) and Python remapped by
  ``opt_ml_remap/sitecustomize.py``. Host names (``algo-k``) do not resolve here: what
  smsim passes itself (torchrun's ``--master_addr``, ``MASTER_ADDR``) is ``127.0.0.1``
  instead; a script that looks up ``algo-2`` itself (or ``SM_HOSTS`` entries) fails.

The mode comes from ``LocalSageMaker(container_mode=…)``, else ``$SMSIM_CONTAINER_MODE``,
else ``auto`` (namespace where the probe succeeds). Forcing ``namespace`` where none can
be made fails the job with the probe's reason rather than silently falling back.
"""

from __future__ import annotations

import os
from pathlib import Path

from simulator.errors import Problem, SmsimError, ValidationError
from simulator.hosts import namespace, shell_remap
from simulator.hosts.launcher import (
    HostCommand,
    HostLauncher,
    OnThisMachine,
    ProcessResult,
    Supervision,
    run_supervised,
)
from simulator.hosts.layout import CONTAINER_ROOT, HostLayout, map_container_path

MODE_ENV = "SMSIM_CONTAINER_MODE"
MODES = ("auto", "namespace", "fallback")
REMAP_HOOK_DIR = Path(__file__).parent / "opt_ml_remap"
FALLBACK_ADDRESS = "127.0.0.1"


def requested_mode(mode: str | None = None) -> tuple[str, str]:
    """(mode, where it was set): the argument, else ``$SMSIM_CONTAINER_MODE``, else auto."""
    if mode:
        value, source = mode, "container_mode argument"
    elif os.environ.get(MODE_ENV):
        value, source = os.environ[MODE_ENV], f"${MODE_ENV}"
    else:
        return "auto", "default"
    norm = value.strip().lower()
    if norm not in MODES:
        raise ValidationError(
            "container mode",
            [Problem(source, "unknown container mode", value, f"use one of {', '.join(MODES)}")],
        )
    return norm, source


def local_launcher(mode: str | None = None) -> HostLauncher:
    """The launcher for ``mode`` (see the module docstring); raises SmsimError when
    ``namespace`` is forced and none can be made."""
    wanted, source = requested_mode(mode)
    if wanted == "fallback":
        return FallbackLauncher(f"forced by {source}")
    support = namespace.probe()
    if support.available:
        how = support.reason if wanted == "auto" else f"{support.reason}; forced by {source}"
        return NamespaceLauncher(support, how)
    if wanted == "namespace":
        raise SmsimError(
            f"container mode 'namespace' ({source}) but no mount namespace can be made here: "
            f"{support.reason}. Use 'auto' or 'fallback' ({MODE_ENV}=fallback)"
        )
    return FallbackLauncher(f"no mount namespace here: {support.reason}")


class NamespaceLauncher(OnThisMachine):
    """Each host in a private mount namespace: its tree at ``/opt/ml``."""

    mode = "namespace"

    def __init__(self, support: namespace.NamespaceSupport, reason: str) -> None:
        self.support = support
        self.reason = reason

    def view(self, layout: HostLayout) -> HostLayout:
        return HostLayout(Path(CONTAINER_ROOT))

    def address(self, host: str) -> str:
        return host  # algo-k → 127.0.0.k through the namespace's /etc/hosts

    def run(self, command: HostCommand, watch: Supervision) -> ProcessResult:
        tree = command.layout.root
        # One file for the job, next to its host trees: <job>/hosts/etc-hosts.
        hosts_file = namespace.write_etc_hosts(
            tree.parent / "etc-hosts", list(command.hosts), command.addresses
        )
        env = dict(command.env)
        # The toolkit's default base dir, set so that a script written for smsim's fallback
        # mode (SAGEMAKER_BASE_DIR) runs the same way here.
        env.setdefault("SAGEMAKER_BASE_DIR", CONTAINER_ROOT)
        argv = namespace.wrap(self.support, tree, command.argv, command.cwd, hosts_file, env)
        # The process starts in the tree (any existing directory would do): the prologue
        # changes to the container's working directory once /opt/ml is mounted.
        result = run_supervised(argv, tree, env, watch)
        if result.exit_code == namespace.SETUP_FAILED and any(
            line.startswith("smsim namespace setup:") for line in result.stderr_tail
        ):
            watch.note(
                "the mount namespace could not be set up; "
                f"set {MODE_ENV}=fallback to run without one"
            )
        return result


class FallbackLauncher(OnThisMachine):
    """Each host a plain subprocess; ``/opt/ml`` mapped to its tree (``shell_remap``)."""

    mode = "fallback"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def view(self, layout: HostLayout) -> HostLayout:
        return layout

    def address(self, host: str) -> str:
        # No private /etc/hosts: algo-k resolves for no program. Every host is a process
        # of this machine, so the loopback address reaches any of them.
        return FALLBACK_ADDRESS

    def run(self, command: HostCommand, watch: Supervision) -> ProcessResult:
        root = command.layout.root
        if not shell_remap.shell_safe(root):
            watch.note(
                f"warning: the host tree {root} has characters a shell splits; "
                "/opt/ml rewritten in shell text may break (use a plainer workspace path)"
            )
        for path in shell_remap.rewrite_scripts(root, command.argv):
            watch.note(f"fallback: /opt/ml rewritten in {path.relative_to(root)}")
        argv = shell_remap.rewrite_argv(command.argv, root)
        cwd = map_container_path(command.cwd, root) or Path(command.cwd)
        env = shell_remap.rewrite_env(command.env, root)
        env["SAGEMAKER_BASE_DIR"] = str(root)  # the toolkit's own override of /opt/ml
        # Python that hard-codes /opt/ml (the SDK's _repack_model.py) reaches the tree
        # through the remap hook, as a container's mount would take it there.
        env["SMSIM_OPT_ML_ROOT"] = str(root)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (env.get("PYTHONPATH", ""), str(REMAP_HOOK_DIR)) if p
        )
        return run_supervised(argv, cwd, env, watch)
