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

This module walks statements, function bodies and imports, and gathers the
facts; :mod:`simulator.alignment.script_expressions` gives each expression its
value; :mod:`simulator.alignment.script_values` holds the values themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

from simulator.alignment.script_expressions import MAX_UNROLL, ExpressionEvaluator
from simulator.alignment.script_facts import (
    ArgumentDef,
    EnvRead,
    Location,
    PathUse,
    ScriptFacts,
    display_path,
)
from simulator.alignment.script_values import (
    KNOWN_MODULES,
    Func,
    LocalModule,
    Param,
    Ref,
    Scope,
    as_text,
    join_path,
    loop_items,
)

__all__ = ["analyse_script"]


class Analyzer:
    """Shared state of one script analysis: facts, module cache, source root."""

    def __init__(self, entry: Path, job_type: str, follow_imports: bool) -> None:
        self.facts = ScriptFacts(entry=entry)
        self.job_type = job_type
        self.root = entry.parent
        self.follow_imports = follow_imports
        self.modules: dict[Path, ModuleAnalysis] = {}
        self._env_seen: set[tuple[str | None, Location]] = set()
        self._path_seen: set[tuple[str, Location]] = set()
        self._arg_seen: set[tuple[str, Location]] = set()
        self._text_seen: set[tuple[str, Location]] = set()

    def module(self, path: Path, dotted: str) -> ModuleAnalysis:
        path = path.resolve()
        if path not in self.modules:
            analysis = ModuleAnalysis(self, path, dotted)
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


class ModuleAnalysis(ExpressionEvaluator):
    """One source file: its module scope, evaluated in statement order."""

    def __init__(self, analyzer: Analyzer, path: Path, dotted: str) -> None:
        self.an = analyzer
        self.path = path
        self.dotted = dotted
        self.scope = Scope()
        self.display = display_path(path)
        self._pending: list[Func] = []
        self._call_site: Location | None = None
        self._depth = 0
        self._env_only = False

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
            func = Func(stmt, self, scope)
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
                    self._pending.append(Func(item, self, scope))
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
        iterable = loop_items(self.eval(stmt.iter, scope))
        items = iterable if isinstance(iterable, tuple) and len(iterable) <= MAX_UNROLL else None
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
                if isinstance(mod, LocalModule):
                    scope.vars.update(
                        {k: v for k, v in mod.analysis.scope.vars.items() if not k.startswith("_")}
                    )
                continue
            sub = self._local_module(f"{module}.{alias.name}") if module else None
            if sub is not None:
                scope.vars[bound] = sub
                continue
            mod = self._local_module(module) if module else self._local_module(alias.name)
            if isinstance(mod, LocalModule):
                scope.vars[bound] = mod.analysis.scope.lookup(alias.name)
            else:
                scope.vars[bound] = None

    def _local_module(self, dotted: str) -> LocalModule | None:
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
        return LocalModule(self.an.module(path, dotted))


def analyse_script(path: Path | str, job_type: str, *, follow_imports: bool = True) -> ScriptFacts:
    """Statically analyse ``path`` (and the local modules it imports) for ``job_type``."""
    entry = Path(path)
    analyzer = Analyzer(entry, job_type, follow_imports)
    analyzer.module(entry, entry.stem)
    return analyzer.facts
