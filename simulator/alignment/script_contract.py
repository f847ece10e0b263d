"""Level 1: a script against its contract, statically (the script is never run).

Rules (each finding points at ``file:line``):

- paths: every contract input and output path is used by the script (the
  path itself or something under it); every ``/opt/ml`` path the script uses
  is declared — a contract path, something under one, a directory above one
  (``/opt/ml/processing/output`` above ``.../output/metrics``) or a path the
  platform provides (:mod:`simulator.alignment.platform`). A path with an
  unknown tail counts as its known directory.
- environment: every variable the script reads is declared by the contract
  or the platform (an undeclared read is an error); a required variable never
  read is an error; an optional one never read, or read without a default,
  is a warning; a read whose name is computed at run time cannot be checked
  and is a warning.
- arguments: argparse arguments and ``expected_arguments`` match, hyphens and
  underscores normalised. An expected argument the script does not define is
  an error (argparse exits with "unrecognized arguments"), a warning under
  ``parse_known_args``; a required script argument the contract does not pass
  is an error ("the following arguments are required"); an optional one is a
  warning.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from pathlib import Path

from contracts.base import ScriptContract
from simulator.alignment.platform import OPT_ML, is_platform_env_var, platform_paths
from simulator.alignment.report import Finding, error, warning
from simulator.alignment.script_ast import analyse_script
from simulator.alignment.script_facts import (
    EnvRead,
    PathUse,
    ScriptFacts,
    display_path,
    normalise_argument,
)

LEVEL = 1


def check_script_contract(
    contract: ScriptContract,
    script: Path | str,
    *,
    step: str = "",
    follow_imports: bool = True,
    facts: ScriptFacts | None = None,
) -> list[Finding]:
    """Every level-1 finding of ``script`` (the contract's entry point) against ``contract``.

    ``facts`` (from :func:`analyse_script`) saves analysing the script again.
    """
    step = step or contract.entry_point
    if facts is None:
        facts = analyse_script(script, contract.job_type, follow_imports=follow_imports)
    findings = [
        error(LEVEL, step, "script.syntax", f"cannot parse {msg}", "fix the syntax error")
        for msg in facts.syntax_errors
    ]
    if facts.syntax_errors and not facts.files:
        return findings
    findings += _path_findings(contract, facts, step)
    findings += _env_findings(contract, facts, step)
    findings += _argument_findings(contract, facts, step)
    return findings


# ---------------------------------------------------------------- paths


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _path_findings(contract: ScriptContract, facts: ScriptFacts, step: str) -> list[Finding]:
    declared: dict[str, str] = {}
    for kind, table in (
        ("input", contract.expected_input_paths),
        ("output", contract.expected_output_paths),
    ):
        for name, path in table.items():
            declared[path.rstrip("/")] = f"{kind} {name!r}"
    platform = platform_paths(contract.job_type)
    uses = [u for u in facts.paths if u.path and u.path != OPT_ML and _under(u.path, OPT_ML)]
    findings: list[Finding] = []

    # Contract → script: each declared path is used (itself or below it).
    unused: dict[str, str] = {}
    for path, what in declared.items():
        if not any(_under(u.path, path) for u in uses):
            unused[path] = what

    # Script → contract: each used path is declared, under a declaration, above one
    # (an intermediate directory) or the platform's.
    known_roots = [*declared, *platform]
    undeclared: dict[str, list[PathUse]] = defaultdict(list)
    for use in uses:
        p = use.path
        if any(_under(p, root) or _under(root, p) for root in known_roots):
            continue
        undeclared[p].append(use)
    # Report each undeclared subtree once, at its top (the children share its cause).
    tops = sorted(p for p in undeclared if not any(q != p and _under(p, q) for q in undeclared))
    subtree = {
        top: [u for p, us in undeclared.items() if _under(p, top) for u in us] for top in tops
    }

    for path, what in unused.items():
        kind, name = what.split(" ", 1)
        hint = _closest(path, [t for t in tops if _area(t) == _area(path)])
        findings.append(
            error(
                LEVEL,
                step,
                f"path.unused_{kind}",
                f"contract {what} → {path} is never used by {facts.entry.name}"
                + (f"; the script uses {hint} instead" if hint else ""),
                f"build {path} in the script (e.g. os.path.join(BASE_DIR, "
                f"{', '.join(repr(p) for p in path.split('/')[3:])}))"
                + (f", or change the contract's path to {hint}" if hint else "")
                + f", or remove {name} from the contract",
                location=display_path(facts.entry),
            )
        )
    # Siblings (files written into a directory above a declared path) form one finding.
    by_parent: dict[str, list[str]] = defaultdict(list)
    for top in tops:
        by_parent[top.rsplit("/", 1)[0]].append(top)
    for parent, group in by_parent.items():
        uses_here = sorted(
            (u for top in group for u in subtree[top]),
            key=lambda u: (u.location.file, u.location.line),
        )
        first = uses_here[0]
        others = len({str(u.location) for u in uses_here}) - 1
        names = ", ".join(t.rsplit("/", 1)[1] for t in group)
        shown = group[0] if len(group) == 1 else f"{parent}/{{{names}}}"
        hint = _closest(group[0], list(unused) or list(declared))
        findings.append(
            error(
                LEVEL,
                step,
                "path.undeclared",
                f"uses {shown}, which the contract does not declare"
                + (f" (in {others + 1} places)" if others > 0 else ""),
                (f"did you mean {hint}? " if hint else "")
                + f"declare it in {_field_for(contract, group[0])}, or use a declared path",
                location=str(first.location),
            )
        )
    return findings


def _area(path: str) -> tuple[str, ...]:
    """The part of the container a path is in: ``("input",)``, ``("processing", "output")``…

    A hint never crosses areas: an unused output is not "used instead" by an input read.
    """
    parts = path[len(OPT_ML) :].strip("/").split("/")
    return tuple(parts[:2]) if parts[0] == "processing" else tuple(parts[:1])


def _closest(path: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(path, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _field_for(contract: ScriptContract, path: str) -> str:
    if any(_under(path, r) for r in contract.output_roots):
        return "expected_output_paths"
    if any(_under(path, r) for r in contract.input_roots):
        return "expected_input_paths"
    roots = ", ".join([*contract.input_roots, *contract.output_roots])
    return f"the contract (a {contract.job_type} container's paths live under {roots})"


# ---------------------------------------------------------------- environment


def _env_findings(contract: ScriptContract, facts: ScriptFacts, step: str) -> list[Finding]:
    reads: dict[str, list[EnvRead]] = defaultdict(list)
    findings: list[Finding] = []
    for read in facts.env_reads:
        if read.name is None:
            findings.append(
                warning(
                    LEVEL,
                    step,
                    "env.dynamic",
                    f"reads an environment variable whose name is computed at run time "
                    f"({read.how}); it cannot be checked against the contract",
                    "read each variable by its literal name",
                    location=str(read.location),
                )
            )
        else:
            reads[read.name].append(read)
    job = contract.job_type
    for name, occurrences in reads.items():
        declared = name in contract.all_env_vars
        if not declared and not is_platform_env_var(name, job):
            others = len(occurrences) - 1
            note = ""
            if name.startswith("SM_") and job == "processing":
                note = " (SageMaker sets SM_* variables only in training jobs)"
            findings.append(
                error(
                    LEVEL,
                    step,
                    "env.undeclared",
                    f"reads environment variable {name!r}, which the contract does not declare"
                    + note
                    + (f" (and {others} more place(s))" if others > 0 else ""),
                    f"add {name!r} to required_env_vars, or to optional_env_vars with the "
                    "default the script uses; or stop reading it",
                    location=str(occurrences[0].location),
                )
            )
        if name in contract.optional_env_vars:
            for read in occurrences:
                if not read.has_default:
                    default = contract.optional_env_vars[name]
                    findings.append(
                        warning(
                            LEVEL,
                            step,
                            "env.optional_without_default",
                            f"reads optional variable {name!r} without a default ({read.how}): "
                            "the script fails or gets None when it is unset",
                            f"read it as os.environ.get({name!r}, {default!r}), or make it "
                            "required in the contract",
                            location=str(read.location),
                        )
                    )
    # A required variable never read is an error (the contract promises what the
    # script ignores); an optional one is a warning.
    for make, kind, field_name, names in (
        (error, "required", "required_env_vars", list(contract.required_env_vars)),
        (warning, "optional", "optional_env_vars", list(contract.optional_env_vars)),
    ):
        findings += [
            make(
                LEVEL,
                step,
                f"env.{kind}_unread",
                f"the contract declares {kind} environment variable {name!r}, but "
                f"{facts.entry.name} never reads it",
                f"remove {name!r} from {field_name}, or read it in the script",
                location=display_path(facts.entry),
            )
            for name in names
            if name not in reads
        ]
    return findings


# ---------------------------------------------------------------- arguments


def _argument_findings(contract: ScriptContract, facts: ScriptFacts, step: str) -> list[Finding]:
    expected = {normalise_argument(k): k for k in contract.expected_arguments}
    defined = {a.name: a for a in facts.arguments}
    # The command line names a flag, not its dest: `--job-type` with dest="kind" is passed
    # as --job-type.
    flags = {normalise_argument(f) for a in facts.arguments for f in a.flags if f[:1] == "-"}
    findings: list[Finding] = []
    for norm, original in expected.items():
        if norm in defined or norm in flags:
            continue
        lenient = facts.parse_known_args
        make = warning if lenient else error
        consequence = (
            "parse_known_args ignores it"
            if lenient
            else "argparse exits with 'unrecognized arguments'"
            if facts.uses_argparse
            else "the script defines no argparse arguments at all"
        )
        findings.append(
            make(
                LEVEL,
                step,
                "argument.undefined",
                f"the contract passes --{original}, which {facts.entry.name} does not define "
                f"({consequence})",
                f"add parser.add_argument('--{original}') to the script, or remove {original!r} "
                "from expected_arguments",
                location=display_path(facts.entry),
            )
        )
    for name, arg in defined.items():
        if name in expected or any(normalise_argument(f) in expected for f in arg.flags):
            continue
        make = error if arg.required else warning
        what = "required" if arg.required else "optional"
        findings.append(
            make(
                LEVEL,
                step,
                f"argument.undeclared_{what}",
                f"defines {what} argument {'/'.join(arg.flags)}, which the contract's "
                "expected_arguments does not list"
                + (
                    " (argparse exits: 'the following arguments are required')"
                    if arg.required
                    else ""
                ),
                f"add {name!r} to expected_arguments, or remove the argument",
                location=str(arg.location),
            )
        )
    return findings
