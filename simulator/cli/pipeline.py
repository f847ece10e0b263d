"""`smsim pipeline …`: the group; its commands live in pipeline_build (plan, export)
and pipeline_run (validate, run)."""

from __future__ import annotations

import click

from simulator.cli import pipeline_build, pipeline_run


@click.group()
def pipeline() -> None:
    """Plan, export, validate and run SageMaker pipelines locally."""


pipeline_build.register(pipeline)
pipeline_run.register(pipeline)


def register(main: click.Group) -> None:
    """Add `smsim pipeline` to `main`."""
    main.add_command(pipeline)
