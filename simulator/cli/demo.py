"""`smsim demo`: the BSM pipeline end to end, offline, in a few minutes on a laptop CPU.

The run is :func:`simulator.demo.run_demo` (data, assembly, execution, resolved
outputs); this command adds its options, live progress on stderr and the report
(:mod:`simulator.cli.demo_report`), or the result as one JSON document with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click
from rich.markup import escape

from simulator.cli.demo_report import print_result
from simulator.cli.output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNUSABLE,
    emit_json,
    err_console,
)
from simulator.cli.pipeline_progress import follow_execution
from simulator.demo import run_demo
from simulator.errors import SmsimError


def register(main: click.Group) -> None:
    """Add `smsim demo` to `main`."""
    main.add_command(demo)


@click.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".smsim/demo"),
    show_default=True,
    help="Where data, jobs, logs, artifacts and descriptions are kept.",
)
@click.option(
    "--rows",
    type=click.IntRange(min=50),
    default=2000,
    show_default=True,
    help="Rows of synthetic BSM data.",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Training epochs (the MaxEpochs pipeline parameter).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Test AUROC the model must reach to be registered (default: config's 0.6).",
)
@click.option(
    "--model-class",
    default="multimodal_cnn",
    show_default=True,
    help="train.py model_class hyperparameter.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Data seed.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=1800,
    show_default=True,
    help="Seconds to wait for the execution before stopping it.",
)
@click.option("--verbose", is_flag=True, help="Stream the jobs' logs to stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def demo(
    workspace: Path,
    rows: int,
    epochs: int,
    threshold: float | None,
    model_class: str,
    seed: int,
    timeout: float,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run the BSM pipeline (preprocess → train → evaluate → gate → model + registry) locally."""
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _unusable(
            f"--workspace {workspace}: cannot create it ({exc.strerror}); "
            "pass a directory you can write to",
            as_json,
        )
    try:
        result = run_demo(
            workspace,
            rows=rows,
            epochs=epochs,
            threshold=threshold,
            model_class=model_class,
            seed=seed,
            timeout=timeout,
            say=None if as_json else _say,
            follow=lambda sm, arn, limit: follow_execution(
                sm, arn, timeout=limit, show=not as_json
            ),
            # --verbose: LocalSageMaker's console sink; else the logs stay in the workspace.
            **({"log_sink": None} if verbose else {}),
        )
    except SmsimError as exc:
        _unusable(str(exc), as_json)
    if as_json:
        emit_json(result)
    else:
        print_result(result)
    raise SystemExit(EXIT_OK if result["pipeline_execution_status"] == "Succeeded" else EXIT_FAILED)


def _unusable(message: str, as_json: bool) -> NoReturn:
    if as_json:
        emit_json({"error": message})
    else:
        err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
    raise SystemExit(EXIT_UNUSABLE)


def _say(text: str, detail: bool) -> None:
    if detail:
        err_console.print(f"   [dim]{escape(text)}[/]")
    else:
        err_console.print(f"[bold blue]::[/] {escape(text)}")
