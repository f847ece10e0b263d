"""What a script uses, as found by :mod:`simulator.alignment.script_ast`.

Container paths (``/opt/ml/...``, possibly with an unknown tail), environment
variable reads (with or without a default) and argparse arguments, each with
the ``file:line`` where the script does it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

# Placeholder for the unknown part of a string value.
UNKNOWN = "\x00"


@dataclass(frozen=True)
class Location:
    """A place in a source file."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class EnvRead:
    """One read of an environment variable (``name`` None when computed at run time)."""

    name: str | None
    has_default: bool
    how: str
    location: Location


@dataclass(frozen=True)
class PathUse:
    """One container path value the script builds (``/opt/ml/...``, maybe partly unknown)."""

    value: str
    location: Location

    @property
    def path(self) -> str:
        """The part of the path known statically, cut at the last complete component."""
        known = self.value.split(UNKNOWN, 1)[0]
        if UNKNOWN in self.value:
            known = known.rsplit("/", 1)[0] if not known.endswith("/") else known
        return posixpath.normpath(known) if known else ""

    @property
    def exact(self) -> bool:
        return UNKNOWN not in self.value


@dataclass(frozen=True)
class ArgumentDef:
    """One ``add_argument`` call: its flags, destination and whether it is required."""

    flags: tuple[str, ...]
    dest: str
    required: bool
    location: Location

    @property
    def name(self) -> str:
        """Normalised name (no leading dashes, hyphens as underscores)."""
        return normalise_argument(self.dest)


def normalise_argument(name: str) -> str:
    """``--job-type`` → ``job_type`` (argparse's own dest rule)."""
    return name.lstrip("-").replace("-", "_")


@dataclass
class ScriptFacts:
    """Everything found in a script and the local modules it imports."""

    entry: Path
    files: list[Path] = field(default_factory=list)
    env_reads: list[EnvRead] = field(default_factory=list)
    paths: list[PathUse] = field(default_factory=list)
    arguments: list[ArgumentDef] = field(default_factory=list)
    # Strings with a `key=value` shape the script builds (log lines MetricDefinitions scrape).
    texts: list[tuple[str, Location]] = field(default_factory=list)
    uses_argparse: bool = False
    parse_known_args: bool = False
    syntax_errors: list[str] = field(default_factory=list)


def display_path(path: Path | str) -> str:
    """``path`` relative to the working directory when under it (``dockers/x/train.py``)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
