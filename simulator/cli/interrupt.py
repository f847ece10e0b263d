"""Ctrl-C of a command that runs jobs (``smsim train``, ``pipeline run``, ``demo``, ``serve``).

The first Ctrl-C stops what the command started: ``KeyboardInterrupt`` unwinds into
``LocalSageMaker.close()``, which stops every running job (SIGTERM, the grace period,
SIGKILL) and execution, each ending Stopped. A second Ctrl-C during that kills the jobs'
processes at once (``JobStore.close``). Either way the command then prints each job and
execution it stopped with its final status, and exits 130 (128 + SIGINT, what shells
expect of a command ended by Ctrl-C). Records a kill left unfinished are settled on disk
as Stopped: no later session finds them InProgress.

Which runs are the command's: those whose ``runner.json`` (simulator.owner) names this
process, not yet ended when the first Ctrl-C came.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType, TracebackType

from rich.markup import escape
from rich.table import Table

from simulator import owner
from simulator.cli.output import emit_json, err_console
from simulator.jobs import records as job_records
from simulator.pipeline.run import records as pipeline_records
from simulator.pipeline.run.orphans import RUNNING_STEP

EXIT_INTERRUPTED = 130
ENDED = {"Completed", "Failed", "Stopped", "Succeeded"}


def active_runs(workspace: Path) -> list[owner.Run]:
    """This process's jobs and executions that have not ended."""
    return [r for r in owner.runs_of_this_process(workspace) if r.status not in ENDED]


def settle(workspace: Path, runs: list[owner.Run]) -> list[owner.Run]:
    """End on disk, as Stopped, whichever of ``runs`` is not over; their final state."""
    for run in runs:
        if run.kind == "pipeline execution":
            stop_execution_on_disk(run.directory)
    for run in runs:  # after the executions: their steps' jobs may end meanwhile
        if run.kind != "pipeline execution":
            job_records.stop_on_disk(run.kind, run.directory)
    final = {(r.kind, r.directory): r for r in owner.runs_of_this_process(workspace)}
    return [final.get((r.kind, r.directory), r) for r in runs]


def stop_execution_on_disk(directory: Path) -> None:
    """Record an execution that is not over as Stopped, with its running steps: its CLI was
    killed at once (a second Ctrl-C) before the executor could record the stop."""
    t = pipeline_records.utcnow()
    desc = pipeline_records.read_json(directory / "execution.json")
    if desc["PipelineExecutionStatus"] not in ("Executing", "Stopping"):
        return
    steps = pipeline_records.read_json(directory / "steps.json")
    for step in steps["PipelineExecutionSteps"]:
        if step["StepStatus"] in RUNNING_STEP:
            step.update(StepStatus="Stopped", EndTime=t)
    desc.update(PipelineExecutionStatus="Stopped", LastModifiedTime=t)
    pipeline_records.write_json(directory / "steps.json", steps)
    pipeline_records.write_json(directory / "execution.json", desc)


def report(runs: list[owner.Run], killed: bool) -> None:
    """A table of what was stopped, on stderr (stdout may be a ``--json`` document)."""
    how = "killed at once (a second Ctrl-C)" if killed else "stopped (Ctrl-C)"
    if not runs:
        err_console.print(f"[yellow]interrupted:[/] nothing was running; {how}")
        return
    err_console.print(f"[yellow]interrupted:[/] {len(runs)} run(s) {how}:", highlight=False)
    table = Table()
    table.add_column("Kind")
    table.add_column("Name", overflow="fold")
    table.add_column("Final status")
    for run in runs:
        colour = "green" if run.status in ENDED else "red"
        table.add_row(run.kind, escape(run.name), f"[{colour}]{run.status}[/]")
    err_console.print(table)


class Interruptible:
    """``with Interruptible(workspace):`` around the code that runs a command's jobs; on
    Ctrl-C it stops them, reports them and exits 130 (see the module docstring)."""

    def __init__(self, workspace: Path | str, as_json: bool = False) -> None:
        self.workspace = Path(workspace).expanduser().resolve()
        self.as_json = as_json  # --json: the stopped runs are stdout's one document too
        self.count = 0
        self.runs: list[owner.Run] = []
        self._previous: object = None

    def __enter__(self) -> Interruptible:
        # Set explicitly: a command started in the background of a non-interactive shell
        # inherits SIGINT ignored, and Ctrl-C (kill -INT) must still stop it.
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.count == 1:
            self.runs = active_runs(self.workspace)
            err_console.print(
                f"[yellow]Ctrl-C:[/] stopping {len(self.runs)} run(s); "
                "Ctrl-C again to kill them at once"
            )
        else:
            err_console.print("[red]Ctrl-C again:[/] killing the jobs' processes now")
        raise KeyboardInterrupt

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.count == 0 and exc_type is not KeyboardInterrupt:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            return
        # Further Ctrl-Cs while settling are counted, not raised: the report must print.
        signal.signal(signal.SIGINT, lambda *_: None)
        runs = settle(self.workspace, self.runs)
        report(runs, killed=self.count > 1)
        if self.as_json:
            stopped = [{"kind": r.kind, "name": r.name, "status": r.status} for r in runs]
            emit_json({"error": "interrupted (Ctrl-C)", "stopped": stopped})
        raise SystemExit(EXIT_INTERRUPTED)
