"""`smsim pipeline plan` and `smsim pipeline export`: from step specs to a definition.

``plan`` shows how the dependency resolver wired a named DAG (which upstream
output feeds each dependency, with its score); ``export`` writes the SageMaker
pipeline definition that wiring compiles to — the JSON a user deploys with
``CreatePipeline`` (after uploading the step code it names).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from simulator.cli.options import directory_option, json_option
from simulator.cli.output import EXIT_FAILED, console, emit_json, fail
from simulator.errors import SmsimError
from simulator.pipeline.build.assembly import (
    PARAM_INPUT_DATA,
    AssembledPipeline,
    assemble,
    iter_steps,
)
from simulator.pipeline.build.config import PipelineConfig, load_config
from simulator.pipeline.build.dags import dag_names, get_dag
from simulator.pipeline.build.resolver import THRESHOLD, Candidate
from simulator.pipeline.build.step_code import write_code
from simulator.requests import DEFAULT_SOURCE_DIR


def register(group: click.Group) -> None:
    """Add `plan` and `export` to the `pipeline` group."""
    group.add_command(plan)
    group.add_command(export)


_DAG_OPTION = click.option(
    "--dag",
    "dag_name",
    default="bsm",
    show_default=True,
    help=f"Named DAG to assemble ({', '.join(dag_names())}).",
)
_CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pipeline config JSON (bucket, prefix, hyperparameters, instance types, …).",
)


@click.command(short_help="Show how a DAG's steps are wired, with scores.")
@_DAG_OPTION
@_CONFIG_OPTION
@json_option()
def plan(dag_name: str, config_path: Path | None, as_json: bool) -> None:
    """Show how each step's dependencies are wired to upstream outputs, with scores."""
    assembled = _assemble_or_exit(dag_name, config_path, as_json)
    report = plan_report(assembled)
    if as_json:
        emit_json(report)
        return
    _print_plan(report)


@click.command(short_help="Write a DAG's SageMaker pipeline definition.")
@_DAG_OPTION
@_CONFIG_OPTION
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the pipeline definition JSON.",
)
@directory_option(
    "--write-code",
    "code_dir",
    "Also write the code objects the definition names under DIR/<bucket>/<key>.",
)
@json_option("Print a JSON summary.")
def export(
    dag_name: str, config_path: Path | None, output: Path, code_dir: Path | None, as_json: bool
) -> None:
    """Write the SageMaker pipeline definition of a DAG (CreatePipeline's PipelineDefinition).

    The definition names its step code by S3 URI (content-addressed, like the
    SDK's uploads); --write-code writes those objects locally so that
    `aws s3 sync DIR/<bucket> s3://<bucket>` puts them where SageMaker will look.
    """
    assembled = _assemble_or_exit(dag_name, config_path, as_json)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(assembled.to_json() + "\n")
        written = write_code(assembled.code, code_dir) if code_dir else []
    except OSError as exc:
        fail(f"cannot write {exc.filename or output}: {exc.strerror}", as_json)
    summary = export_summary(assembled, output)
    summary["code_files"] = [str(p) for p in written]
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"[bold]Wrote[/] {output}: pipeline [cyan]{summary['pipeline_name']}[/] "
        f"({len(summary['steps'])} steps, definition version {summary['version']})"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("Step")
    table.add_column("Type")
    table.add_column("Runs when")
    for step in summary["steps"]:
        table.add_row(step["name"], step["type"], step["runs_when"])
    console.print(table)
    console.print("Parameters (name = default):")
    for p in summary["parameters"]:
        console.print(f"  {p['Name']} = {p.get('DefaultValue')!r}", highlight=False)
    console.print("The definition runs this code; upload it before deploying:")
    for uri, source in summary["code"].items():
        console.print(f"  {uri}\n    <- {source}", highlight=False)
    bucket = assembled.config.bucket
    if code_dir:
        console.print(
            f"Wrote {len(written)} code objects under {code_dir}; upload them with\n"
            f"  aws s3 sync {code_dir / bucket} s3://{bucket}\n"
            "or run the pipeline locally with\n"
            f"  smsim pipeline run {output} --upload {code_dir / bucket}=s3://{bucket}/ "
            f"--upload DATA_DIR={assembled.config.raw_data_uri}",
            highlight=False,
        )
    else:
        console.print(
            "[dim]--write-code DIR writes those objects locally (for aws s3 sync or "
            "smsim pipeline run --upload).[/]"
        )


def _assemble_or_exit(dag_name: str, config_path: Path | None, as_json: bool) -> AssembledPipeline:
    try:
        dag = get_dag(dag_name)
        config = load_config(config_path) if config_path else PipelineConfig()
    except SmsimError as exc:
        fail(str(exc), as_json)
    try:
        return assemble(dag, config)
    except SmsimError as exc:
        fail(str(exc), as_json, code=EXIT_FAILED)


# ---------------------------------------------------------------------------
# Reports (plain dicts: the --json documents, and what the tables print)
# ---------------------------------------------------------------------------


def plan_report(assembled: AssembledPipeline) -> dict[str, Any]:
    """The wiring of every step: chosen upstream output, score breakdown, candidates."""
    dag = assembled.dag
    steps = []
    for name in dag.topological_order():
        spec = assembled.specs[name]
        by_dep = {r.dependency.logical_name: r for r in assembled.resolutions.get(name, [])}
        deps = []
        for dep in spec.dependencies.values():
            res = by_dep.get(dep.logical_name)
            inline = dep.logical_name in assembled.inline_dependencies.get(name, [])
            entry: dict[str, Any] = {
                "dependency": dep.logical_name,
                "type": dep.dependency_type.value,
                "required": dep.required,
                "inline": inline,
                "parameter": (
                    f"Parameters.{PARAM_INPUT_DATA}"
                    if assembled.parameter_inputs.get(name) == dep.logical_name
                    else None
                ),
                "chosen": None,
                "candidates": [],
            }
            if res is not None:
                entry["candidates"] = [_candidate(c) for c in res.candidates]
                if res.chosen is not None:
                    entry["chosen"] = _candidate(res.chosen)
            deps.append(entry)
        steps.append(
            {
                "name": name,
                "step_type": spec.step_type,
                "sagemaker_step_type": spec.sagemaker_step_type.value,
                "upstream": dag.upstream(name),
                "gated": dag.gated(name),
                "dependencies": deps,
            }
        )
    gate = None
    if dag.gate is not None:
        g = dag.gate
        gate = {
            "name": g.name,
            "condition": (
                f"{g.source_step}.{g.property_file} {g.json_path} >= {g.threshold_parameter}"
            ),
            "threshold": assembled.config.auroc_threshold,
            # The gate's steps and what runs after them: the Condition's IfSteps.
            "if_steps": [n for n in dag.topological_order() if dag.gated(n)],
            "else_step": g.fail_step,
        }
    return {
        "dag": dag.name,
        "description": dag.description,
        "threshold": THRESHOLD,
        "steps": steps,
        "gate": gate,
        # The effective config: a template for --config (every field, with its value).
        "config": assembled.config.model_dump(),
    }


def _candidate(candidate: Candidate) -> dict[str, Any]:
    output, score = candidate.output, candidate.score
    return {
        "step": candidate.step_name,
        "output": output.logical_name,
        "property_path": output.property_path,
        "score": round(float(score.total), 4),
        "breakdown": {k: round(float(v), 4) for k, v in dict(score.breakdown).items()},
    }


def export_summary(assembled: AssembledPipeline, output: Path | None = None) -> dict[str, Any]:
    """What an export wrote: steps, parameters and the code objects to upload."""
    dag = assembled.dag
    gated = dag.gated_steps()
    steps = []
    for step in iter_steps(assembled.definition):
        name = step["Name"]
        if dag.gate is not None and name == dag.gate.fail_step:
            runs_when = f"{dag.gate.name} is false"
        elif name in gated and dag.gate is not None:
            runs_when = f"{dag.gate.name} is true"
        else:
            runs_when = "always"
        steps.append({"name": name, "type": step["Type"], "runs_when": runs_when})
    try:  # shown relative to the working directory when it is inside it
        source = str(DEFAULT_SOURCE_DIR.relative_to(Path.cwd()))
    except ValueError:
        source = str(DEFAULT_SOURCE_DIR)
    return {
        "path": str(output) if output else None,
        "pipeline_name": assembled.config.pipeline_name,
        "version": assembled.definition["Version"],
        "steps": steps,
        "parameters": assembled.definition["Parameters"],
        "code": {
            assembled.code.sourcedir: f"{source}/ packed as a tar.gz (train.py, bsm/)",
            assembled.code.processing_prefix: f"{source}/ (preprocess.py, evaluate.py, bsm/)",
        },
    }


# Short labels so a score's breakdown fits one 80-column line.
_SHORT = {"data_type": "data", "keywords": "kw"}


def _print_plan(report: dict[str, Any]) -> None:
    console.print(f"[bold]DAG {report['dag']}[/]: {report['description']}")
    console.print(
        f"[dim]Each dependency takes its best-scoring upstream output "
        f"(score >= {report['threshold']}).[/]\n"
    )
    for step in report["steps"]:
        gated = " [dim](runs if the gate passes)[/]" if step["gated"] else ""
        console.print(f"[bold cyan]{step['name']}[/] [dim]{step['sagemaker_step_type']}[/]{gated}")
        if not step["dependencies"]:
            console.print("  [dim]no dependencies[/]")
        width = max((len(d["dependency"]) for d in step["dependencies"]), default=0)
        for dep in step["dependencies"]:
            name = dep["dependency"].ljust(width)
            chosen = dep["chosen"]
            if chosen is None:
                if dep["parameter"]:
                    state = f"<- [magenta]{dep['parameter']}[/] [dim](no upstream step feeds it)[/]"
                elif dep["inline"]:
                    state = "[dim]supplied by the job request itself (HyperParameters)[/]"
                elif dep["required"]:
                    state = "[red]UNRESOLVED[/]"
                else:
                    state = "[dim]optional, not wired[/]"
                console.print(f"  {name}  {state}")
                continue
            # Outputs of an incompatible type score 0: not worth counting as candidates.
            scored = sum(1 for c in dep["candidates"] if c["score"] > 0)
            rest = f"  [dim](best of {scored})[/]" if scored > 1 else ""
            console.print(
                f"  {name}  <- [cyan]{chosen['step']}[/].{chosen['output']}  "
                f"[bold]{chosen['score']:.2f}[/]{rest}"
            )
            breakdown = " + ".join(
                f"{_SHORT.get(k, k)} {v:.2f}".replace(" 0.", " .")
                for k, v in chosen["breakdown"].items()
            )
            if breakdown:
                console.print(f"  {' ' * width}     [dim]{breakdown}[/]")
    gate = report["gate"]
    if gate:
        console.print(
            f"\n[bold]{gate['name']}[/] (Condition, default threshold {gate['threshold']}):\n"
            f"  {gate['condition']}\n"
            f"  true  -> {', '.join(gate['if_steps'])}\n"
            f"  false -> {gate['else_step']} (Fail: the execution fails with the reason)"
        )
