"""simulator.cli.options: the shared options parse and document themselves as declared."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from simulator.cli.options import json_option, number_option, verbose_option, workspace_option


@click.command()
@workspace_option(".smsim/x", "Where it all goes.")
@number_option("--rows", click.IntRange(min=10), 300, "How many rows.")
@verbose_option()
@json_option()
def probe(workspace: Path, rows: int, verbose: bool, as_json: bool) -> None:
    click.echo(f"{type(workspace).__name__} {workspace} {rows} {verbose} {as_json}")


def test_defaults_and_values() -> None:
    runner = CliRunner()
    assert runner.invoke(probe, []).output.split() == [
        type(Path()).__name__,
        ".smsim/x",
        "300",
        "False",
        "False",
    ]
    given = runner.invoke(probe, ["--workspace", "ws", "--rows", "12", "--verbose", "--json"])
    assert given.output.split()[1:] == ["ws", "12", "True", "True"]


def test_bounds_and_help() -> None:
    runner = CliRunner()
    low = runner.invoke(probe, ["--rows", "3"])
    assert low.exit_code == 2 and "x>=10" in low.output
    text = runner.invoke(probe, ["--help"]).output
    assert "[default: 300; x>=10]" in text and "[default: .smsim/x]" in text
    assert "Print one JSON document." in text


def test_a_workspace_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("")
    result = CliRunner().invoke(probe, ["--workspace", str(file)])
    assert result.exit_code == 2 and "is a file" in result.output
