"""Options several commands share, declared once: ``--json``, ``--verbose``, ``--workspace``,
``--faults`` and bounded numbers whose default is shown in ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def json_option(help: str = "Print one JSON document.") -> Decorator:
    """``--json`` → ``as_json``: one JSON document on stdout, nothing else there."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def verbose_option() -> Decorator:
    """``--verbose``: the jobs' log lines on stderr as they come."""
    return click.option("--verbose", is_flag=True, help="Stream the jobs' logs to stderr.")


def workspace_option(default: str = ".smsim", help: str | None = None) -> Decorator:
    """``--workspace`` → a Path (jobs, logs, artifacts and descriptions live there)."""
    return directory_option("--workspace", "workspace", help, default=Path(default))


def directory_option(name: str, dest: str, help: str | None, **settings: Any) -> Decorator:
    """An option naming a directory (it need not exist yet) → a Path in ``dest``."""
    kind = click.Path(file_okay=False, path_type=Path)
    return click.option(
        name, dest, type=kind, show_default="default" in settings, help=help, **settings
    )


def faults_option(dest: str = "faults") -> Decorator:
    """``--faults FILE``: a JSON fault plan (simulator.faults) → a Path in ``dest``."""
    return click.option(
        "--faults",
        dest,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="A JSON fault plan of service errors, Spot interruptions and S3 throttling to "
        "inject (simulator.faults; default: $SMSIM_FAULTS).",
    )


def number_option(name: str, kind: click.ParamType, default: Any, help: str) -> Decorator:
    """A bounded number (``click.IntRange``/``FloatRange``) with its default shown."""
    return click.option(name, type=kind, default=default, show_default=True, help=help)
