"""`smsim data synth`: write deterministic synthetic BSM data for local runs."""

from __future__ import annotations

import click
from rich.table import Table

from simulator.cli.options import json_option, number_option
from simulator.cli.output import console, emit_json, fail

# simulator.datasets.FORMATS, spelled out here: importing simulator.datasets pulls in
# pandas and numpy (~0.35 s), which `smsim --help` and every other command must not pay.
FORMATS = ("csv", "tsv", "parquet")


@click.group("data")
def data_group() -> None:
    """Synthetic datasets for local training runs."""


@data_group.command("synth")
@number_option(
    "--rows",
    click.IntRange(min=10),
    3000,
    "Number of orders to generate (split 70/15/15 into train/val/test).",
)
@number_option(
    "--seed", click.IntRange(min=0), 0, "Random seed; the same seed always gives the same rows."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Directory to write train/, val/, test/ and hyperparameters.json into.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--raw", is_flag=True, help="Write all rows to raw/ unsplit (input for preprocess.py) instead."
)
@json_option()
def synth(rows: int, seed: int, out_dir: str, fmt: str, raw: bool, as_json: bool) -> None:
    """Write synthetic buyer–seller messaging data (dialogue + order fields + refund label)."""
    from simulator.datasets import write_dataset

    try:
        result = write_dataset(out_dir, rows, seed, fmt, split=not raw)
    except OSError as exc:
        message = (
            f"--out {out_dir}: cannot write {exc.filename or out_dir}: {exc.strerror or exc}; "
            "choose a writable directory"
        )
        fail(message, as_json)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"BSM synthetic data (seed {seed}, {fmt})")
    table.add_column("split")
    table.add_column("rows", justify="right")
    table.add_column("file")
    for split, path in result["files"].items():
        table.add_row(split, str(result["counts"][split]), path)
    console.print(table)
    console.print(f"hyperparameters: {result['hyperparameters_path']}")


def register(main: click.Group) -> None:
    """Add this module's commands to `main`."""
    main.add_command(data_group)
