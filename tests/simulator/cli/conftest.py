"""The CLI as its users run it, shared by the CLI tests.

* ``cli(*args, input=None, catch_exceptions=True)``: `smsim ARGS…` in this process
  (click's runner); the click ``Result`` (``exit_code``, ``output``, ``stdout``).
* ``smsim_process(*args, timeout=…, **popen)``: the installed ``smsim`` console script
  as a subprocess (real signals, real stdout/stderr); the ``CompletedProcess``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from simulator.cli import main

# The console script of the venv running the tests.
SMSIM = str(Path(sys.executable).parent / "smsim")


@pytest.fixture(scope="session")
def cli() -> Callable[..., Result]:
    runner = CliRunner()

    def run(*args: Any, input: str | None = None, catch_exceptions: bool = True) -> Result:
        return runner.invoke(
            main, [str(a) for a in args], input=input, catch_exceptions=catch_exceptions
        )

    return run


@pytest.fixture(scope="session")
def smsim_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: Any, timeout: float = 120, **popen: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SMSIM, *map(str, args)], capture_output=True, text=True, timeout=timeout, **popen
        )

    return run


@pytest.fixture(scope="session")
def smsim_path() -> str:
    """Path of the ``smsim`` console script (for Popen-level control: signals, streams)."""
    return SMSIM
