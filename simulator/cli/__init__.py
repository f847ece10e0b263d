"""`smsim …`: the command line. One module per command group; each has `register(main)`.

Command modules are imported only when their command runs (or when ``--help``
lists them): ``smsim validate`` never pays for pandas, moto or the pipeline
engine, and a broken module breaks its own command, not every other one.
"""

from __future__ import annotations

import importlib

import click

# Command name → the module of simulator.cli whose register(main) adds it, in help order.
_COMMAND_MODULES: dict[str, str] = {
    "validate": "validate",
    "paths": "paths",
    "data": "data",
    "train": "train",
    "jobs": "jobs",
    "pipeline": "pipeline",
    "demo": "demo",
    "serve": "serve",
}


class _LazyGroup(click.Group):
    """A group whose commands are registered by their module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = [name for name in self.commands if name not in _COMMAND_MODULES]
        return [*_COMMAND_MODULES, *sorted(extra)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in _COMMAND_MODULES:
            module = importlib.import_module(f"simulator.cli.{_COMMAND_MODULES[cmd_name]}")
            module.register(self)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smsim")
def main() -> None:
    """smsim: SageMaker training jobs, processing jobs and pipelines, locally on the CPU."""
