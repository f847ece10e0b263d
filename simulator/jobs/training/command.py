"""A training host's command, as the toolkit (or the container) starts it.

* ``ContainerEntrypoint`` + ``ContainerArguments``: run as given (``python`` as the
  image's interpreter);
* the image's built-in algorithm (no ``sagemaker_program``): smsim's stand-in;
* ``sagemaker_program``: ``.sh`` → ``/bin/sh -c "./x.sh args"``, ``.py`` → ``python x.py
  args``, else ``python -m module args`` (the toolkit's entry point types), or — with a
  distribution on this host's group — torchrun / mpirun (``hosts/distribution.py``).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from simulator.errors import SmsimError
from simulator.hosts import distribution
from simulator.hosts.layout import container_argv
from simulator.hosts.toolkit import Hyperparameters, ToolkitEnvironment


def host_command(
    request: dict[str, Any],
    hps: Hyperparameters,
    interpreter: str,
    toolkit: ToolkitEnvironment,
    code_dir: Path,
    *,
    builtin_entry: str | None,
    master_addr: str,
) -> list[str]:
    """The argv of one host (``code_dir``: its code on disk, to check the entry point;
    ``master_addr``: how its processes reach the master host)."""
    algo = request.get("AlgorithmSpecification", {})
    if algo.get("ContainerEntrypoint"):
        return container_argv(
            algo["ContainerEntrypoint"], algo.get("ContainerArguments", []), interpreter
        )
    if builtin_entry is not None:
        return [interpreter, builtin_entry]
    program = str(hps.program)
    user_args = toolkit.cmd_args()
    path = code_dir / program
    if program.endswith(".sh"):
        if not path.is_file():
            raise SmsimError(f"entry point {program!r} not found in the source directory")
        path.chmod(path.stat().st_mode | 0o111)
        # The toolkit runs shell entry points as `/bin/sh -c "./x.sh args"`.
        return ["/bin/sh", "-c", " ".join([f"./{program}", *map(shlex.quote, user_args)])]
    if program.endswith(".py") and not path.is_file():
        raise SmsimError(
            f"entry point {program!r} (sagemaker_program) not found in the source "
            f"directory; files there: {sorted(p.name for p in code_dir.iterdir())}"
        )
    how = distribution.kind(hps.framework)
    if how != "process" and toolkit.current_host in toolkit.distribution_hosts():
        nproc = distribution.processes_per_host(hps.framework)
        if how == "mpi":
            return distribution.mpirun_argv(interpreter, program, user_args, nproc)
        return distribution.torchrun_argv(
            interpreter,
            program,
            user_args,
            hosts=toolkit.distribution_hosts(),
            current_host=toolkit.current_host,
            master_addr=master_addr,
            nproc=nproc,
        )
    if program.endswith(".py"):
        return [interpreter, program, *user_args]
    return [interpreter, "-m", program, *user_args]
