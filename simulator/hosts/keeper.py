"""The keeper: a host process's first program, so that nothing outlives the simulator.

A SageMaker container dies with its instance; a local job must die with the simulator
that runs it, however that ends (SIGKILL included), or its script and what the script
started run on unseen, holding ports and GPUs. ``PR_SET_PDEATHSIG`` alone is not enough:
it is not inherited by the script's children, and it is lost if set between ``fork`` and
``exec`` of a threaded parent (``preexec_fn``). So every host process (a job's entry
point, a model server, a Lambda step) starts as

    python -I -S keeper.py PARENT_PID -- ARGV...

which (standard library only, nothing imported from smsim):

1. asks for ``SIGUSR1`` when its parent dies (``PR_SET_PDEATHSIG``) and, in case the
   parent died before that, compares ``getppid()`` with ``PARENT_PID``;
2. becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``): a daemon the script
   double-forks is re-parented here, not to init, so it stays findable;
3. forks and execs ARGV in its own process group (the launcher's ``start_new_session``):
   the launcher's SIGTERM/SIGKILL of the group reach the script as before;
4. waits; when the script ends, kills what it left (a container ends with its entry
   point) and exits with the script's status (a signal death is re-raised);
5. when the parent dies, SIGKILLs every descendant and its process group, then exits.

The kernel sends the parent-death signal when the *thread* that forked exits, even
while the process lives on (a server's request thread); then ``getppid()`` is still the
simulator's pid and the keeper carries on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
DEATH_SIGNAL = signal.SIGUSR1
HERE = os.path.abspath(__file__)


def keeper_argv(argv: list[str], python: str | None = None) -> list[str]:
    """``argv`` started under the keeper, which dies with (and kills for) this process."""
    return [python or sys.executable, "-I", "-S", HERE, str(os.getpid()), "--", *argv]


def _children_map() -> dict[int, list[int]]:
    """ppid → pids, and pgid → pids under a negative key, from ``/proc``."""
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        pid, ppid, pgrp = int(entry), int(fields[1]), int(fields[2])
        out.setdefault(ppid, []).append(pid)
        out.setdefault(-pgrp, []).append(pid)
    return out


def _descendants(root: int) -> set[int]:
    """Every process below ``root`` or in its process group (``root`` excluded)."""
    tree = _children_map()
    # Its process group too, when the keeper leads it (the launchers' start_new_session):
    # a group it merely joined is its parent's.
    own_group = os.getpgid(0) == root
    found: set[int] = set(tree.get(-root, [])) if own_group else set()
    todo = [root, *found]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    found.discard(root)
    return found


def kill_all() -> None:
    """SIGKILL everything below this process, reaping as it goes, until none is left."""
    me = os.getpid()
    for _ in range(50):  # a fork bomb could refill the tree; give up after a while
        pids = _descendants(me)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _exit_like(status: int) -> None:
    """Exit as the script did: its exit code, or death by its signal."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # those two have no handler to reset
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)

    def parent_died(signum: int, frame: object) -> None:
        if os.getppid() != parent:  # not just the forking thread of a live simulator
            kill_all()
            os._exit(128 + signal.SIGKILL)

    # Handlers, not SIG_IGN: an exec resets handled signals to their defaults, so the
    # script gets SIGTERM/SIGINT as a container's entry point does. The keeper itself
    # outlives a group SIGTERM to report the script's exit status.
    signal.signal(DEATH_SIGNAL, parent_died)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: None)
    # After the handler: the signal (a starting thread's end) may come at once.
    libc.prctl(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(128 + signal.SIGKILL)  # the simulator died before the prctl took
    keeper = os.getpid()
    child = os.fork()
    if child == 0:
        # The script dies with the keeper too, should the keeper be killed on its own
        # (a Lambda step's timeout kills only its direct child).
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != keeper:
            os._exit(128 + signal.SIGKILL)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            sys.stderr.write(f"cannot start {command[0]!r}: {exc.strerror}\n")
            sys.stderr.flush()
            os._exit(126 if exc.errno == 13 else 127)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            kill_all()
            _exit_like(status)


if __name__ == "__main__":
    main(sys.argv[1:])
