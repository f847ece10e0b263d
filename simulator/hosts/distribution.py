"""Distributed training as the SDK asks for it and the toolkits launch it, per host.

The SDK turns ``distribution=`` into framework hyperparameters; the training toolkit
(aws/sagemaker-training-toolkit ``runner.py``, ``torch_distributed.py``) and the PyTorch
container (aws/sagemaker-pytorch-training-toolkit ``training.py``) then decide how each
host starts the entry point:

* ``{"torch_distributed": {"enabled": True}}`` → ``sagemaker_torch_distributed_enabled``:
  every host of the distribution groups runs ``torchrun --nnodes N --nproc_per_node P
  --master_addr <master> --master_port 7777 --node_rank <index of the host> <entry point>
  <args>`` (the multi-node options only when N > 1), with ``NCCL_SOCKET_IFNAME`` set to
  the network interface; P is ``sagemaker_mpi_num_of_processes_per_host`` if given, else
  the GPU count, 1 on CPU. smsim adds one option: ``$SMSIM_NPROC_PER_NODE`` sets P when the
  hyperparameter does not.
* ``{"mpi": …}`` / ``{"pytorchddp": …}`` → ``sagemaker_mpi_enabled`` /
  ``sagemaker_pytorch_ddp_enabled``: the toolkit's master runs ``mpirun`` over ssh to every
  host. smsim runs ``mpirun -np P`` on a one-host job when ``mpirun`` is on PATH; a
  multi-host one (no sshd between hosts here) or one without mpirun is refused at create.
* nothing → every host runs the script itself (the toolkit's ProcessRunner).

The PyTorch container sets ``MASTER_ADDR`` (the master host) and ``MASTER_PORT=7777``, and
``NCCL_SOCKET_IFNAME``, ``NCCL_IB_DISABLE=1``, ``NCCL_DEBUG=WARN`` for every job
(``framework_env``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simulator.errors import Problem, SmsimError, ValidationError

MASTER_PORT = "7777"  # the toolkits' fixed rendezvous port
TORCH_DISTRIBUTED = "sagemaker_torch_distributed_enabled"
MPI = "sagemaker_mpi_enabled"
PYTORCH_DDP = "sagemaker_pytorch_ddp_enabled"
PROCESSES_PER_HOST = "sagemaker_mpi_num_of_processes_per_host"  # the toolkit's params.py
NPROC_ENV = "SMSIM_NPROC_PER_NODE"


def kind(framework: dict[str, Any]) -> str:
    """How hosts start the script: "torch_distributed" | "mpi" | "process"."""
    if framework.get(MPI) or framework.get(PYTORCH_DDP):
        return "mpi"
    if framework.get(TORCH_DISTRIBUTED):
        return "torch_distributed"
    return "process"


def mpi_refusal(framework: dict[str, Any], host_count: int) -> str | None:
    """Why an mpi/pytorchddp job cannot run here (None when it can)."""
    if kind(framework) != "mpi":
        return None
    which = "pytorchddp" if framework.get(PYTORCH_DDP) else "mpi"
    if shutil.which("mpirun") is None:
        return (
            f"distribution {which!r} ({PYTORCH_DDP if which == 'pytorchddp' else MPI}) runs "
            "through mpirun, which is not on PATH: install Open MPI (e.g. `apt-get install "
            'openmpi-bin`) or use distribution={"torch_distributed": {"enabled": True}}'
        )
    if host_count > 1:
        return (
            f"distribution {which!r} across {host_count} hosts: the toolkit's mpirun reaches the "
            "other hosts over ssh, which smsim's local hosts do not run; use "
            'distribution={"torch_distributed": {"enabled": True}} (torchrun) for several hosts'
        )
    return None


def processes_per_host(framework: dict[str, Any], num_gpus: int = 0) -> int:
    """P: the toolkit's ``sagemaker_mpi_num_of_processes_per_host``, else
    ``$SMSIM_NPROC_PER_NODE``, else the GPU count, 1 on CPU."""
    raw: Any = framework.get(PROCESSES_PER_HOST)
    where = f"HyperParameters.{PROCESSES_PER_HOST}"
    if raw is None and os.environ.get(NPROC_ENV):
        raw, where = os.environ[NPROC_ENV], f"${NPROC_ENV}"
    if raw is None:
        return num_gpus if num_gpus > 0 else 1
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise ValidationError(
            "distribution", [Problem(where, "must be a whole number ≥ 1", raw, "e.g. 2")]
        )
    return value


def torchrun_argv(
    interpreter: str,
    program: str,
    args: list[str],
    *,
    hosts: list[str],
    current_host: str,
    master_addr: str,
    nproc: int,
) -> list[str]:
    """The toolkit's TorchDistributedRunner command for ``current_host`` (``hosts``: the
    distribution hosts, master first)."""
    if not program.endswith(".py"):
        raise SmsimError(
            f"entry point {program!r}: Python packages are not supported for torch_distributed "
            "(the toolkit's rule); use a Python script as the entry point"
        )
    # `torchrun` of the image (the interpreter's bin directory), as the container's PATH has.
    torchrun = Path(interpreter).parent / "torchrun"
    head = [str(torchrun)] if torchrun.is_file() else [interpreter, "-m", "torch.distributed.run"]
    argv = [*head, "--nnodes", str(len(hosts)), "--nproc_per_node", str(nproc)]
    if len(hosts) > 1:
        argv += [
            "--master_addr",
            master_addr,
            "--master_port",
            MASTER_PORT,
            "--node_rank",
            str(hosts.index(current_host)),
        ]
    return [*argv, program, *args]


def mpirun_argv(interpreter: str, program: str, args: list[str], nproc: int) -> list[str]:
    """One host's ``mpirun`` (``mpi_refusal`` has ruled out several hosts)."""
    mpirun = shutil.which("mpirun") or "mpirun"
    return [mpirun, "--allow-run-as-root", "-np", str(nproc), interpreter, program, *args]


def framework_env(master_addr: str, interface: str) -> dict[str, str]:
    """What the PyTorch container's training.py sets before the script, on every host."""
    return {
        "MASTER_ADDR": master_addr,
        "MASTER_PORT": MASTER_PORT,
        "NCCL_SOCKET_IFNAME": interface,
        "NCCL_IB_DISABLE": "1",
        "NCCL_DEBUG": "WARN",
    }


@contextlib.contextmanager
def port_lock(
    host_count: int, stop: threading.Event, note: Callable[[str], None]
) -> Iterator[None]:
    """Hold the machine's port 7777 for a job of several hosts.

    On the service every job has its own network; here all hosts of all jobs share this
    machine's, and torchrun's store (or a script's ``init_process_group``) binds
    ``MASTER_PORT`` on every interface. So multi-host jobs take turns: a second one waits
    (a file lock, across processes too) rather than failing with "address already in use".
    A stop request ends the wait. One-host jobs take no lock.
    """
    if host_count <= 1:
        yield
        return
    path = Path(tempfile.gettempdir()) / f"smsim-master-port-{MASTER_PORT}.lock"
    with open(path, "a+") as handle:
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waiting:
                    note(f"waiting for port {MASTER_PORT}: another multi-host job holds it")
                    waiting = True
                if stop.wait(0.2):
                    break  # stopped while waiting: the run sees the stop at once
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
