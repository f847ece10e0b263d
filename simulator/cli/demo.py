"""`smsim demo`: the BSM pipeline end to end, offline, in a few minutes on a laptop CPU.

The run is :func:`simulator.demo.run_demo` (data, assembly, execution, resolved
outputs); this command adds its options, live progress on stderr and the report
(:mod:`simulator.cli.demo_report`), or the result as one JSON document with ``--json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from simulator.cli.demo_report import print_result
from simulator.cli.interrupt import Interruptible
from simulator.cli.options import json_option, number_option, verbose_option, workspace_option
from simulator.cli.output import EXIT_FAILED, EXIT_OK, emit_json, err_console, fail
from simulator.cli.pipeline_progress import follow_execution
from simulator.demo import run_demo
from simulator.errors import SmsimError
from simulator.pipeline.build.dags import dag_names


def register(main: click.Group) -> None:
    """Add `smsim demo` to `main`."""
    main.add_command(demo)


@click.command()
@workspace_option(".smsim/demo", "Where data, jobs, logs, artifacts and descriptions are kept.")
@number_option("--rows", click.IntRange(min=50), 2000, "Rows of synthetic BSM data.")
@number_option("--epochs", click.IntRange(min=1), 3, "Training epochs (MaxEpochs parameter).")
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
    "--dag",
    "dag_name",
    type=click.Choice(list(dag_names())),
    default="bsm",
    show_default=True,
    help="The DAG to run (bsm-xgboost: the XGBoost trainer; --epochs/--model-class then unused).",
)
@number_option(
    "--timeout",
    click.FloatRange(min=1),
    1800,
    "Seconds to wait for the execution before stopping it.",
)
@verbose_option()
@json_option()
def demo(workspace: Path, verbose: bool, as_json: bool, **options: Any) -> None:
    """Run the BSM pipeline (preprocess → train → evaluate → gate → model + registry) locally.

    ``options`` (rows … timeout) are :func:`simulator.demo.run_demo`'s own keywords.
    """
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            f"--workspace {workspace}: cannot create it ({exc.strerror}); "
            "pass a directory you can write to",
            as_json,
        )
    with Interruptible(workspace, as_json):  # Ctrl-C: stop, report, exit 130
        try:
            result = run_demo(
                workspace,
                say=None if as_json else _say,
                follow=lambda sm, arn, limit: follow_execution(
                    sm, arn, timeout=limit, show=not as_json
                ),
                # --verbose: LocalSageMaker's console sink; else the logs stay in the workspace.
                **({"log_sink": None} if verbose else {}),
                **options,
            )
        except SmsimError as exc:
            fail(str(exc), as_json)
    if as_json:
        emit_json(result)
    else:
        print_result(result)
    raise SystemExit(EXIT_OK if result["pipeline_execution_status"] == "Succeeded" else EXIT_FAILED)


def _say(text: str, detail: bool) -> None:
    if detail:
        err_console.print(f"   [dim]{escape(text)}[/]")
    else:
        err_console.print(f"[bold blue]::[/] {escape(text)}")
