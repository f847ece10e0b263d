"""Symbolic values of the script analysis: what a name may hold, and string/path operations.

A value is a ``str`` (possibly holding :data:`UNKNOWN` for parts the analysis
cannot know), an ``int``/``float``/``bool``, a tuple of values, one of the
markers below (a known library object, a function parameter, ``None``, an
argparse parser or its namespace), or ``None`` for "unknown".
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simulator.alignment.platform import OPT_ML
from simulator.alignment.script_facts import UNKNOWN

if TYPE_CHECKING:
    from simulator.alignment.script_ast import ModuleAnalysis


@dataclass(frozen=True)
class Ref:
    """A known library object, by dotted name (``os.environ.get``, ``pathlib.Path``)."""

    name: str


@dataclass(frozen=True)
class Param:
    """A function parameter during stand-alone analysis of the function body."""

    name: str


class NoneValue:
    """Python's ``None`` as a known value (``None`` itself means "unknown")."""

    def __repr__(self) -> str:
        return "None"


NONE = NoneValue()


@dataclass
class Parser:
    """An ``argparse.ArgumentParser`` under construction."""

    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Namespace:
    """What ``parser.parse_args()`` returns: ``args.x`` is the default of ``--x``."""

    parser: Parser


KNOWN_MODULES = {
    "os": "os",
    "os.path": "os.path",
    "posixpath": "os.path",
    "pathlib": "pathlib",
    "argparse": "argparse",
    "sys": "sys",
}
BUILTINS = {"str": "builtins.str", "open": "builtins.open", "print": "builtins.print"}
ENV_GETTERS = {"os.environ.get", "os.getenv", "os.environ.setdefault", "os.environ.pop"}
PATH_CLASSES = {"pathlib.Path", "pathlib.PurePath", "pathlib.PurePosixPath", "pathlib.PosixPath"}
IDENTITY = {
    "builtins.str",
    "os.fspath",
    "os.path.abspath",
    "os.path.normpath",
    "os.path.realpath",
    "os.path.expanduser",
}


class Scope:
    def __init__(self, parent: Scope | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        return Ref(BUILTINS[name]) if name in BUILTINS else None


def is_path_value(value: Any) -> bool:
    return (
        isinstance(value, str)
        and (value == OPT_ML or value.startswith(OPT_ML + "/"))
        and not any(c.isspace() for c in value)
    )


def join_path(parts: list[Any]) -> Any:
    if not parts:
        return None
    out = ""
    for part in parts:
        text = as_text(part)
        if text.startswith("/"):
            out = text
        elif not out or out.endswith("/"):
            out += text
        else:
            out += "/" + text
    return out


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return UNKNOWN


@dataclass(frozen=True)
class ParserMethod:
    parser: Parser
    method: str


@dataclass(frozen=True)
class BoundMethod:
    """A method looked up on a known string/path value."""

    base: str
    method: str

    def call(self, args: list[Any]) -> Any:
        if self.method == "joinpath":
            return join_path([self.base, *args])
        if self.method in ("resolve", "absolute", "expanduser", "strip", "__fspath__", "as_posix"):
            return self.base
        if self.method == "rstrip":
            chars = args[0] if args and isinstance(args[0], str) else None
            return self.base.rstrip(chars)
        if self.method == "format":
            return brace_format(self.base, args)
        return None


@dataclass(frozen=True, eq=False)
class DictMethod:
    """A method looked up on a literal-keyed dict (``DEFAULTS.items()``)."""

    base: dict[str, Any]
    method: str

    def call(self, args: list[Any]) -> Any:
        if self.method == "items":
            return tuple(self.base.items())
        if self.method == "keys":
            return tuple(self.base)
        if self.method == "values":
            return tuple(self.base.values())
        if self.method == "get" and args and isinstance(args[0], str):
            return self.base.get(args[0], args[1] if len(args) > 1 else NONE)
        return None


def percent_format(template: str, values: tuple) -> str:
    out, i, k = [], 0, 0
    while i < len(template):
        if template[i] == "%" and i + 1 < len(template):
            spec = template[i + 1]
            if spec == "%":
                out.append("%")
            else:
                out.append(as_text(values[k]) if k < len(values) else UNKNOWN)
                k += 1
            i += 2
            continue
        out.append(template[i])
        i += 1
    return "".join(out)


def brace_format(template: str, args: list[Any]) -> str:
    out, k, i = [], 0, 0
    while i < len(template):
        if template[i] == "{":
            end = template.find("}", i)
            if end < 0:
                break
            field_name = template[i + 1 : end]
            if field_name.isdigit():
                value = args[int(field_name)] if int(field_name) < len(args) else None
            elif field_name == "":
                value = args[k] if k < len(args) else None
                k += 1
            else:
                value = None
            out.append(as_text(value))
            i = end + 1
            continue
        out.append(template[i])
        i += 1
    return "".join(out)


@dataclass
class Func:
    """A function defined in the analysed code, with the scope it closes over."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    module: ModuleAnalysis
    scope: Scope


@dataclass
class LocalModule:
    """A local module or package (attributes are its module-level names / submodules)."""

    analysis: ModuleAnalysis


def loop_items(value: Any) -> Any:
    """What a ``for`` loop walks: a dict's keys, a tuple's items, else unknown."""
    return tuple(value) if isinstance(value, dict) else value
