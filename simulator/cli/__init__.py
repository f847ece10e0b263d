"""`smsim …`: the command line. One module per command group; each has `register(main)`."""

from __future__ import annotations

import click

from simulator.cli import data, demo, jobs, paths, pipeline, train, validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="smsim")
def main() -> None:
    """smsim: SageMaker training jobs, processing jobs and pipelines, locally on the CPU."""


for _module in (validate, paths, data, train, jobs, pipeline, demo):
    _module.register(main)
