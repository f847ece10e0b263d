"""What a script really uses, found statically: container paths, env reads, arguments.

The script is parsed, never run. A small symbolic evaluator walks it in
statement order and keeps the value of every name it can know:

- string constants, f-strings, ``+`` and ``%`` formatting, ``str.format``;
- ``os.path.join`` (and ``posixpath``), ``os.path.dirname``/``basename``/``abspath``,
  ``pathlib.Path(...)``, ``p / "x"``, ``.joinpath``, ``.parent``, ``.name``;
- environment reads — ``os.environ.get(N, d)``, ``os.getenv(N, d)``,
  ``os.environ[N]``, ``N in os.environ``, ``os.environ.setdefault`` — through any
  alias (``from os import environ``, ``env = os.environ``). A variable the
  platform sets to a path (``SAGEMAKER_BASE_DIR`` → ``/opt/ml``, ``SM_MODEL_DIR``,
  ``SM_CHANNEL_<NAME>``, see :mod:`simulator.alignment.platform`) takes the
  platform's value; any other takes its default;
- ``argparse``: every ``add_argument`` (with its default, so ``args.x`` has a
  value), ``parse_args`` and ``parse_known_args``;
- straight-line local functions (assignments then ``return``) are inlined at
  their call sites, so ``def env(name, default): return os.environ.get(name,
  default)`` reports each caller's variable; ``for`` loops and comprehensions
  over a literal tuple are unrolled.

Local imports are followed: a module or package found in the script's own
directory (``from bsm import data``, ``import bsm.paths``, relative imports
inside it) is analysed too, its module-level names are importable, and its
findings point at its own ``file:line``. Third-party modules are not.

A part of a string the evaluator cannot know is kept as :data:`UNKNOWN`, so
``os.path.join(MODEL_DIR, f"epoch_{n}.pt")`` still tells that the script uses
``/opt/ml/model``.
"""

from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.alignment.platform import platform_path_var
from simulator.alignment.script_facts import (
    UNKNOWN,
    ArgumentDef,
    EnvRead,
    Location,
    PathUse,
    ScriptFacts,
    display_path,
    normalise_argument,
)
from simulator.alignment.script_values import (
    ENV_GETTERS,
    IDENTITY,
    KNOWN_MODULES,
    NONE,
    PATH_CLASSES,
    BoundMethod,
    DictMethod,
    Namespace,
    Param,
    Parser,
    ParserMethod,
    Ref,
    Scope,
    as_text,
    is_path_value,
    join_path,
    percent_format,
)

__all__ = ["analyse_script"]

_MAX_INLINE_DEPTH = 4
_MAX_UNROLL = 32


# ---------------------------------------------------------------- symbolic values


@dataclass
class _Func:
    node: ast.FunctionDef | ast.AsyncFunctionDef
    module: _ModuleAnalysis
    scope: Scope


@dataclass
class _Module:
    """A local module or package (attributes are its module-level names / submodules)."""

    analysis: _ModuleAnalysis


# ---------------------------------------------------------------- analysis


class _Analyzer:
    """Shared state of one script analysis: facts, module cache, source root."""

    def __init__(self, entry: Path, job_type: str, follow_imports: bool) -> None:
        self.facts = ScriptFacts(entry=entry)
        self.job_type = job_type
        self.root = entry.parent
        self.follow_imports = follow_imports
        self.modules: dict[Path, _ModuleAnalysis] = {}
        self._env_seen: set[tuple[str | None, Location]] = set()
        self._path_seen: set[tuple[str, Location]] = set()
        self._arg_seen: set[tuple[str, Location]] = set()
        self._text_seen: set[tuple[str, Location]] = set()

    def module(self, path: Path, dotted: str) -> _ModuleAnalysis:
        path = path.resolve()
        if path not in self.modules:
            analysis = _ModuleAnalysis(self, path, dotted)
            self.modules[path] = analysis
            if path.is_file():  # a folder is a namespace package: nothing to run
                analysis.run()
        return self.modules[path]

    def find_local_module(self, dotted: str) -> Path | None:
        """``dotted``'s file under the script's directory (a folder: a namespace package)."""
        base = self.root.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return base if base.is_dir() else None

    def env_read(self, name: str | None, has_default: bool, how: str, loc: Location) -> None:
        if (name, loc) in self._env_seen:
            return
        self._env_seen.add((name, loc))
        self.facts.env_reads.append(EnvRead(name, has_default, how, loc))

    def path_use(self, value: str, loc: Location) -> None:
        if (value, loc) not in self._path_seen:
            self._path_seen.add((value, loc))
            self.facts.paths.append(PathUse(value, loc))

    def text(self, value: str, loc: Location) -> None:
        if (value, loc) not in self._text_seen:
            self._text_seen.add((value, loc))
            self.facts.texts.append((value, loc))

    def argument(self, arg: ArgumentDef) -> None:
        if (arg.dest, arg.location) not in self._arg_seen:
            self._arg_seen.add((arg.dest, arg.location))
            self.facts.arguments.append(arg)


class _ModuleAnalysis:
    """One source file: its module scope, evaluated in statement order."""

    def __init__(self, analyzer: _Analyzer, path: Path, dotted: str) -> None:
        self.an = analyzer
        self.path = path
        self.dotted = dotted
        self.scope = Scope()
        self.display = display_path(path)
        self._pending: list[_Func] = []
        self._call_site: Location | None = None
        self._depth = 0

    # -- driver

    def run(self) -> None:
        try:
            tree = ast.parse(self.path.read_text(encoding="utf-8"), filename=str(self.path))
        except (SyntaxError, UnicodeDecodeError, OSError) as exc:
            self.an.facts.syntax_errors.append(f"{self.display}: {exc}")
            return
        self.an.facts.files.append(self.path)
        self.exec_block(tree.body, self.scope)
        # Function bodies run after the module is loaded: every module name exists.
        while self._pending:
            func = self._pending.pop(0)
            local = Scope(func.scope)
            args = func.node.args
            for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                local.vars[a.arg] = Param(a.arg)
            for a in (args.vararg, args.kwarg):
                if a is not None:
                    local.vars[a.arg] = None
            self._bind_defaults(func.node, local, func.scope)
            self.exec_block(func.node.body, local)

    def loc(self, node: ast.AST) -> Location:
        if self._call_site is not None:
            return self._call_site
        return Location(self.display, getattr(node, "lineno", 0))

    # -- statements

    def exec_block(self, body: list[ast.stmt], scope: Scope) -> None:
        for stmt in body:
            self.exec_stmt(stmt, scope)

    def exec_stmt(self, stmt: ast.stmt, scope: Scope) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, scope)
            for target in stmt.targets:
                self.assign(target, value, scope)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, scope), scope)
        elif isinstance(stmt, ast.AugAssign):
            value = self.eval(stmt.value, scope)
            if isinstance(stmt.target, ast.Name):
                old = scope.lookup(stmt.target.id)
                new = None
                if isinstance(stmt.op, ast.Add) and isinstance(old, str):
                    new = old + as_text(value)
                elif isinstance(stmt.op, ast.Div) and isinstance(old, str):
                    new = join_path([old, value])
                scope.vars[stmt.target.id] = new
        elif isinstance(stmt, ast.Expr):
            if not (isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
                self.eval(stmt.value, scope)  # a bare string is a docstring, not a use
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.eval(stmt.value, scope)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            for dec in stmt.decorator_list:
                self.eval(dec, scope)
            self._eval_defaults(stmt, scope)
            func = _Func(stmt, self, scope)
            scope.vars[stmt.name] = func
            self._pending.append(func)
        elif isinstance(stmt, ast.ClassDef):
            for node in [*stmt.bases, *stmt.decorator_list]:
                self.eval(node, scope)
            class_scope = Scope(scope)
            for item in stmt.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    # Methods do not see the class scope (Python's rule).
                    self._eval_defaults(item, class_scope)
                    self._pending.append(_Func(item, self, scope))
                else:
                    self.exec_stmt(item, class_scope)
            scope.vars[stmt.name] = None
        elif isinstance(stmt, ast.If | ast.While):
            self.eval(stmt.test, scope)
            self.exec_block(stmt.body, scope)
            self.exec_block(stmt.orelse, scope)
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            self._exec_for(stmt, scope)
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                value = self.eval(item.context_expr, scope)
                if item.optional_vars is not None:
                    bound = value if isinstance(value, str) else None
                    self.assign(item.optional_vars, bound, scope)
            self.exec_block(stmt.body, scope)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            self.exec_block(stmt.body, scope)
            for handler in stmt.handlers:
                if handler.type is not None:
                    self.eval(handler.type, scope)
                if handler.name:
                    scope.vars[handler.name] = None
                self.exec_block(handler.body, scope)
            self.exec_block(stmt.orelse, scope)
            self.exec_block(stmt.finalbody, scope)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                self._import(alias.name, alias.asname, scope)
        elif isinstance(stmt, ast.ImportFrom):
            self._import_from(stmt, scope)
        elif isinstance(stmt, ast.Match):
            self.eval(stmt.subject, scope)
            for case in stmt.cases:
                self.exec_block(case.body, scope)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self.eval(child, scope)

    def _exec_for(self, stmt: ast.For | ast.AsyncFor, scope: Scope) -> None:
        iterable = _iterable(self.eval(stmt.iter, scope))
        items = iterable if isinstance(iterable, tuple) and len(iterable) <= _MAX_UNROLL else None
        if items:
            for item in items:
                self.assign(stmt.target, item, scope)
                self.exec_block(stmt.body, scope)
        else:
            self.assign(stmt.target, None, scope)
            self.exec_block(stmt.body, scope)
        self.exec_block(stmt.orelse, scope)

    def _eval_defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef, scope: Scope) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.eval(default, scope)

    def _bind_defaults(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, local: Scope, outer: Scope
    ) -> None:
        # A parameter with a default most likely holds it: `def main(model_dir=MODEL_DIR)`.
        positional = [*node.args.posonlyargs, *node.args.args]
        for arg, default in zip(positional[::-1], node.args.defaults[::-1], strict=False):
            local.vars[arg.arg] = self.eval(default, outer)
        for arg, kw_default in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True):
            if kw_default is not None:
                local.vars[arg.arg] = self.eval(kw_default, outer)

    def assign(self, target: ast.expr, value: Any, scope: Scope) -> None:
        if isinstance(target, ast.Name):
            scope.vars[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            values = value if isinstance(value, tuple) and len(value) == len(target.elts) else None
            for i, elt in enumerate(target.elts):
                self.assign(elt, values[i] if values else None, scope)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, None, scope)
        else:
            self.eval(target, scope)  # x.attr = / x[k] = : evaluate the parts for reads

    # -- imports

    def _import(self, name: str, asname: str | None, scope: Scope) -> None:
        if name in KNOWN_MODULES:
            if asname:
                scope.vars[asname] = Ref(KNOWN_MODULES[name])
            else:
                scope.vars[name.split(".")[0]] = Ref(KNOWN_MODULES[name.split(".")[0]])
            return
        local = self._local_module(name)
        if local is None:
            scope.vars[asname or name.split(".")[0]] = None
            return
        if asname:
            scope.vars[asname] = local
        else:
            top = name.split(".")[0]
            scope.vars[top] = self._local_module(top)

    def _import_from(self, stmt: ast.ImportFrom, scope: Scope) -> None:
        module = stmt.module or ""
        if stmt.level:
            package = self.dotted.rsplit(".", stmt.level)[0] if "." in self.dotted else ""
            if self.path.name == "__init__.py" and stmt.level == 1:
                package = self.dotted
            module = ".".join(p for p in (package, module) if p)
        for alias in stmt.names:
            bound = alias.asname or alias.name
            if module in KNOWN_MODULES or module.split(".")[0] in KNOWN_MODULES:
                if module in KNOWN_MODULES:
                    scope.vars[bound] = Ref(f"{KNOWN_MODULES[module]}.{alias.name}")
                continue
            if alias.name == "*":
                mod = self._local_module(module)
                if isinstance(mod, _Module):
                    scope.vars.update(
                        {k: v for k, v in mod.analysis.scope.vars.items() if not k.startswith("_")}
                    )
                continue
            sub = self._local_module(f"{module}.{alias.name}") if module else None
            if sub is not None:
                scope.vars[bound] = sub
                continue
            mod = self._local_module(module) if module else self._local_module(alias.name)
            if isinstance(mod, _Module):
                scope.vars[bound] = mod.analysis.scope.lookup(alias.name)
            else:
                scope.vars[bound] = None

    def _local_module(self, dotted: str) -> _Module | None:
        if not self.an.follow_imports or not dotted:
            return None
        path = self.an.find_local_module(dotted)
        if path is None:
            return None
        parts = dotted.split(".")
        for i in range(1, len(parts)):  # Python runs the parent packages' __init__ first
            parent = ".".join(parts[:i])
            parent_path = self.an.find_local_module(parent)
            if parent_path is not None:
                self.an.module(parent_path, parent)
        return _Module(self.an.module(path, dotted))

    # -- expressions

    def eval(self, node: ast.expr, scope: Scope) -> Any:
        value = self._eval(node, scope)
        if is_path_value(value):
            self.an.path_use(value, self.loc(node))
        elif isinstance(value, str) and "=" in value and isinstance(node, ast.JoinedStr):
            self.an.text(value, self.loc(node))
        return value

    def _eval(self, node: ast.expr, scope: Scope) -> Any:  # noqa: C901 - one dispatch table
        if isinstance(node, ast.Constant):
            if node.value is None:
                return NONE
            return node.value if isinstance(node.value, str | int | float | bool) else None
        if isinstance(node, ast.Name):
            return scope.lookup(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    inner = self.eval(value.value, scope)
                    if value.format_spec is not None:
                        self.eval(value.format_spec, scope)
                        inner = None
                    parts.append(as_text(inner))
                else:
                    parts.append(as_text(self.eval(value, scope)))
            return "".join(parts)
        if isinstance(node, ast.Attribute):
            return self._attribute(self.eval(node.value, scope), node.attr)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, scope)
        if isinstance(node, ast.Call):
            return self._call(node, scope)
        if isinstance(node, ast.BinOp):
            return self._binop(node, scope)
        if isinstance(node, ast.Compare):
            return self._compare(node, scope)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            values = tuple(self.eval(elt, scope) for elt in node.elts)
            return values if isinstance(node, ast.Tuple | ast.List) else None
        if isinstance(node, ast.Dict):
            keys = [self.eval(k, scope) if k is not None else None for k in node.keys]
            values = [self.eval(v, scope) for v in node.values]
            # `ENV_DEFAULTS = {"LABEL_FIELD": "label", ...}`: keep literal-keyed dicts.
            if all(isinstance(k, str) and UNKNOWN not in k for k in keys):
                return dict(zip(keys, values, strict=True))
            return None
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v, scope) for v in node.values]
            # `os.environ.get("X") or "/opt/ml/x"`: the fallback is the platform value.
            known = [v for v in values if isinstance(v, str) and UNKNOWN not in v]
            return known[-1] if isinstance(node.op, ast.Or) and known else None
        if isinstance(node, ast.IfExp):
            self.eval(node.test, scope)
            body, orelse = self.eval(node.body, scope), self.eval(node.orelse, scope)
            return body if body == orelse else None
        if isinstance(node, ast.Lambda):
            return None
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self._comprehension(node, scope)
            return None
        if isinstance(node, ast.NamedExpr):
            value = self.eval(node.value, scope)
            self.assign(node.target, value, scope)
            return value
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.eval(child, scope)
        return None

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, scope: Scope
    ) -> None:
        local = Scope(scope)
        first, *rest = node.generators
        iterable = _iterable(self.eval(first.iter, scope))
        unroll = isinstance(iterable, tuple) and len(iterable) <= _MAX_UNROLL
        items = iterable if unroll else (None,)
        elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for item in items or (None,):
            self.assign(first.target, item, local)
            for gen in rest:
                self.eval(gen.iter, local)
                self.assign(gen.target, None, local)
            for gen in node.generators:
                for cond in gen.ifs:
                    self.eval(cond, local)
            for elt in elts:
                self.eval(elt, local)

    def _attribute(self, base: Any, attr: str) -> Any:
        if isinstance(base, Ref):
            return Ref(f"{base.name}.{attr}")
        if isinstance(base, _Module):
            sub = self._local_module(f"{base.analysis.dotted}.{attr}")
            return sub if sub is not None else base.analysis.scope.lookup(attr)
        if isinstance(base, Namespace):
            return base.parser.defaults.get(attr)
        if isinstance(base, Parser):
            return ParserMethod(base, attr)
        if isinstance(base, dict):
            return DictMethod(base, attr)
        if isinstance(base, str):
            if attr == "parent":
                return posixpath.dirname(base.rstrip("/")) if UNKNOWN not in base else None
            if attr == "name":
                return posixpath.basename(base.rstrip("/"))
            return BoundMethod(base, attr)
        return None

    def _subscript(self, node: ast.Subscript, scope: Scope) -> Any:
        base = self.eval(node.value, scope)
        key = self.eval(node.slice, scope)
        if isinstance(base, Ref) and base.name == "os.environ" and isinstance(node.ctx, ast.Load):
            self._record_env(key, False, "os.environ[...]", node)
            return self._env_value(key, None, False)
        if isinstance(base, tuple) and isinstance(key, int) and -len(base) <= key < len(base):
            return base[key]
        if isinstance(base, dict) and isinstance(key, str):
            return base.get(key)
        return None

    def _compare(self, node: ast.Compare, scope: Scope) -> Any:
        left = self.eval(node.left, scope)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator, scope)
            if (
                isinstance(op, ast.In | ast.NotIn)
                and isinstance(right, Ref)
                and right.name == "os.environ"
            ):
                self._record_env(left, True, "'...' in os.environ", node)
        return None

    def _binop(self, node: ast.BinOp, scope: Scope) -> Any:
        left, right = self.eval(node.left, scope), self.eval(node.right, scope)
        if isinstance(node.op, ast.Div) and isinstance(left, str) and not isinstance(right, int):
            return join_path([left, right])  # pathlib's `/`: dividing strings never runs
        if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(node.op, ast.Add) and (isinstance(left, str) or isinstance(right, str)):
            return as_text(left) + as_text(right)
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            values = right if isinstance(right, tuple) else (right,)
            return percent_format(left, values)
        return None

    def _call(self, node: ast.Call, scope: Scope) -> Any:
        func = self.eval(node.func, scope)
        args: list[Any] = []
        for a in node.args:
            if isinstance(a, ast.Starred):
                spread = self.eval(a.value, scope)
                # `os.path.join(BASE, *PARTS)`: a literal tuple spreads; anything else is unknown.
                args += list(spread) if isinstance(spread, tuple) else [None]
            else:
                args.append(self.eval(a, scope))
        kwargs = {kw.arg: self.eval(kw.value, scope) for kw in node.keywords}
        if isinstance(func, Ref):
            return self._call_ref(func.name, node, args, kwargs)
        if isinstance(func, ParserMethod):
            return self._parser_method(func.parser, func.method, node, args, kwargs)
        if isinstance(func, BoundMethod | DictMethod):
            return func.call(args)
        if isinstance(func, _Func) and self._depth < _MAX_INLINE_DEPTH:
            return func.module.inline(func, args, kwargs, self.loc(node), self._depth + 1)
        return None

    def _call_ref(self, name: str, node: ast.Call, args: list[Any], kwargs: dict) -> Any:
        if name in ENV_GETTERS:
            key = args[0] if args else kwargs.get("key")
            given = len(args) > 1 or "default" in kwargs
            default = args[1] if len(args) > 1 else kwargs.get("default")
            # A default whose value is unknown is still a default; only None is none.
            has_default = given and default is not NONE
            self._record_env(key, has_default, f"{name}(...)", node)
            return self._env_value(key, default, has_default)
        if name == "os.path.join":
            return join_path(args)
        if name in PATH_CLASSES:
            return join_path(args) if args else "."
        if name in IDENTITY:
            return args[0] if args and isinstance(args[0], str) else None
        if name == "os.path.dirname" and args and isinstance(args[0], str):
            return posixpath.dirname(args[0]) if UNKNOWN not in args[0] else None
        if name == "os.path.basename" and args and isinstance(args[0], str):
            return posixpath.basename(args[0])
        if name == "argparse.ArgumentParser":
            self.an.facts.uses_argparse = True
            return Parser()
        return None

    def _parser_method(
        self, parser: Parser, method: str, node: ast.Call, args: list[Any], kwargs: dict
    ) -> Any:
        if method == "add_argument":
            self._add_argument(parser, node, args, kwargs)
            return None
        if method in ("add_argument_group", "add_mutually_exclusive_group"):
            return parser
        if method == "set_defaults":
            parser.defaults.update({k: v for k, v in kwargs.items() if k})
            return None
        if method == "parse_args":
            return Namespace(parser)
        if method in ("parse_known_args", "parse_known_intermixed_args"):
            self.an.facts.parse_known_args = True
            return (Namespace(parser), None)
        return None

    def _add_argument(self, parser: Parser, node: ast.Call, args: list[Any], kwargs: dict) -> None:
        flags = tuple(a for a in args if isinstance(a, str))
        if not flags:
            return
        optional = flags[0].startswith("-")
        dest = kwargs.get("dest")
        if not isinstance(dest, str):
            longs = [f for f in flags if f.startswith("--")]
            dest = (longs or list(flags))[0]
        dest = normalise_argument(dest)
        nargs = kwargs.get("nargs")
        required = kwargs.get("required") is True if optional else nargs not in ("?", "*")
        parser.defaults[dest] = kwargs.get("default")
        self.an.argument(ArgumentDef(flags, dest, required, self.loc(node)))

    def inline(self, func: _Func, args: list[Any], kwargs: dict, site: Location, depth: int) -> Any:
        """Evaluate a straight-line function for one call; findings point at ``site``."""
        body = [
            s
            for s in func.node.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        if not body or not isinstance(body[-1], ast.Return):
            return None
        if not all(isinstance(s, ast.Assign | ast.AnnAssign | ast.Expr) for s in body[:-1]):
            return None
        local = Scope(func.scope)
        params = [*func.node.args.posonlyargs, *func.node.args.args]
        defaults = func.node.args.defaults
        first_default = len(params) - len(defaults)
        for i, param in enumerate(params):
            if i < len(args):
                local.vars[param.arg] = args[i]
            elif param.arg in kwargs:
                local.vars[param.arg] = kwargs[param.arg]
            elif i >= first_default:
                local.vars[param.arg] = self._eval_silently(defaults[i - first_default], func.scope)
            else:
                local.vars[param.arg] = None
        for kwonly, kw_default in zip(
            func.node.args.kwonlyargs, func.node.args.kw_defaults, strict=True
        ):
            if kwonly.arg in kwargs:
                local.vars[kwonly.arg] = kwargs[kwonly.arg]
            elif kw_default is not None:
                local.vars[kwonly.arg] = self._eval_silently(kw_default, func.scope)
        saved = self._call_site, self._depth
        self._call_site, self._depth = site, depth
        try:
            for stmt in body[:-1]:
                self.exec_stmt(stmt, local)
            ret = body[-1]
            assert isinstance(ret, ast.Return)
            return self.eval(ret.value, local) if ret.value is not None else NONE
        finally:
            self._call_site, self._depth = saved

    def _eval_silently(self, node: ast.expr, scope: Scope) -> Any:
        if isinstance(node, ast.Constant):
            return NONE if node.value is None else node.value
        return self._eval(node, scope)

    # -- environment

    def _record_env(self, key: Any, has_default: bool, how: str, node: ast.AST) -> None:
        if isinstance(key, Param):
            return  # a wrapper's own body: each call site reports its variable
        name = key if isinstance(key, str) and UNKNOWN not in key else None
        self.an.env_read(name, has_default, how, self.loc(node))

    def _env_value(self, key: Any, default: Any, has_default: bool) -> Any:
        if isinstance(key, str):
            platform = platform_path_var(key, self.an.job_type)
            if platform is not None:
                return platform
        if has_default and isinstance(default, str):
            return default
        return UNKNOWN


def _iterable(value: Any) -> Any:
    """What a ``for`` loop walks: a dict's keys, a tuple's items, else unknown."""
    return tuple(value) if isinstance(value, dict) else value


def analyse_script(path: Path | str, job_type: str, *, follow_imports: bool = True) -> ScriptFacts:
    """Statically analyse ``path`` (and the local modules it imports) for ``job_type``."""
    entry = Path(path)
    analyzer = _Analyzer(entry, job_type, follow_imports)
    analyzer.module(entry, entry.stem)
    return analyzer.facts
