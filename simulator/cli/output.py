"""Shared CLI output: rich for people, one JSON document for tools (``--json``)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

# Human output goes to stdout; logs streamed from jobs and progress go to stderr
# so that `--json` output on stdout stays one parseable document.
console = Console()
err_console = Console(stderr=True)

# Exit codes shared by every command: 0 clean, 1 the thing checked/run failed,
# 2 the command could not run (bad arguments, unreadable input).
EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def print_indented(text: Text | str, indent: int = 2) -> None:
    """Print ``text`` wrapped at word boundaries, every line indented (a hanging block).

    Reports print a finding as a head line and indented detail lines rather than as
    table cells: at 80 columns a 5-column table folds every message mid-word.
    """
    console.print(Padding(text, (0, 0, 0, indent), expand=False))


def emit_json(obj: Any) -> None:
    """Print one JSON document to stdout (datetimes as ISO strings)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_default) + "\n")


def fail(
    message: str,
    as_json: bool = False,
    *,
    code: int = EXIT_UNUSABLE,
    prefix: str = "error:",
    document: dict[str, Any] | None = None,
) -> NoReturn:
    """End the command: ``{"error": message}`` on stdout with ``--json`` (plus ``document``),
    else the message in red on stderr; exit ``code`` (default 2, could not run)."""
    if as_json:
        emit_json({**(document or {}), "error": message})
    else:
        err_console.print(f"[red]{prefix}[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
