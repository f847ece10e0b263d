"""Expressions of the script analysis: the symbolic evaluator.

:class:`ExpressionEvaluator` gives an expression the value it may hold
(:mod:`simulator.alignment.script_values`): strings and paths through
f-strings, ``+``/``%``/``str.format``, ``os.path`` and ``pathlib``; environment
reads (recorded, and valued with the platform's path or the default);
``argparse`` parsers and the namespaces they return; calls of straight-line
local functions, inlined at their call sites. Statements, imports and the
order of evaluation are :mod:`simulator.alignment.script_ast`'s.
"""

from __future__ import annotations

import ast
import posixpath
from typing import TYPE_CHECKING, Any

from simulator.alignment.platform import platform_path_var
from simulator.alignment.script_facts import UNKNOWN, ArgumentDef, Location, normalise_argument
from simulator.alignment.script_values import (
    ENV_GETTERS,
    IDENTITY,
    NONE,
    PATH_CLASSES,
    BoundMethod,
    DictMethod,
    Func,
    LocalModule,
    Namespace,
    Param,
    Parser,
    ParserMethod,
    Ref,
    Scope,
    as_text,
    is_path_value,
    join_path,
    loop_items,
    percent_format,
)

if TYPE_CHECKING:
    from simulator.alignment.script_ast import Analyzer

MAX_INLINE_DEPTH = 4
MAX_UNROLL = 32


class ExpressionEvaluator:
    """Evaluates expressions of one source file; the statement walker subclasses it."""

    an: Analyzer
    display: str
    _call_site: Location | None
    _depth: int
    _env_only: bool

    def exec_stmt(self, stmt: ast.stmt, scope: Scope) -> None:
        raise NotImplementedError  # the statement walker's

    def _local_module(self, dotted: str) -> LocalModule | None:
        raise NotImplementedError  # the statement walker's (imports)

    def loc(self, node: ast.AST) -> Location:
        if self._call_site is not None:
            return self._call_site
        return Location(self.display, getattr(node, "lineno", 0))

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

    def eval(self, node: ast.expr, scope: Scope) -> Any:
        value = self._eval(node, scope)
        if self._env_only:  # a branching helper run for its env reads: its paths are its own
            return value
        if is_path_value(value):
            self.an.path_use(value, self.loc(node))
        elif isinstance(value, str) and isinstance(node, ast.JoinedStr) and _metric_like(value):
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
        iterable = loop_items(self.eval(first.iter, scope))
        unroll = isinstance(iterable, tuple) and len(iterable) <= MAX_UNROLL
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
        if isinstance(base, LocalModule):
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
        if isinstance(func, Func) and self._depth < MAX_INLINE_DEPTH:
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

    def inline(self, func: Func, args: list[Any], kwargs: dict, site: Location, depth: int) -> Any:
        """Evaluate a straight-line function for one call; findings point at ``site``."""
        body = [
            s
            for s in func.node.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        ]
        straight = (
            bool(body)
            and isinstance(body[-1], ast.Return)
            and all(isinstance(s, ast.Assign | ast.AnnAssign | ast.Expr) for s in body[:-1])
        )
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
        saved = self._call_site, self._depth, self._env_only
        self._call_site, self._depth = site, depth
        try:
            if not straight:
                # `def env(name, default): v = os.environ.get(name); if v is None: ...`:
                # the return value is unknown, but the variable read is the caller's.
                # Only the expressions keyed by a parameter run: walking the whole body
                # per call site would grow exponentially with nested helpers.
                self._env_only = True
                for node in _keyed_by_parameter(func.node):
                    self.eval(node, local)
                return None
            for stmt in body[:-1]:
                self.exec_stmt(stmt, local)
            ret = body[-1]
            assert isinstance(ret, ast.Return)
            return self.eval(ret.value, local) if ret.value is not None else NONE
        finally:
            self._call_site, self._depth, self._env_only = saved

    def _eval_silently(self, node: ast.expr, scope: Scope) -> Any:
        if isinstance(node, ast.Constant):
            return NONE if node.value is None else node.value
        return self._eval(node, scope)

    # -- environment

    def _record_env(self, key: Any, has_default: bool, how: str, node: ast.AST) -> None:
        if isinstance(key, Param):
            return  # a wrapper's own body: each call site reports its variable
        name = key if isinstance(key, str) and UNKNOWN not in key else None
        # A branching helper may supply its own default: do not claim there is none.
        self.an.env_read(name, has_default or self._env_only, how, self.loc(node))

    def _env_value(self, key: Any, default: Any, has_default: bool) -> Any:
        if isinstance(key, str):
            platform = platform_path_var(key, self.an.job_type)
            if platform is not None:
                return platform
        if has_default and isinstance(default, str):
            return default
        return UNKNOWN


def _keyed_by_parameter(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr]:
    """Calls and subscripts of ``node``'s body whose key is a bare parameter: ``f(name, …)``,
    ``x[name]`` — where a helper may read the caller's environment variable."""
    args = node.args
    params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    found: list[ast.expr] = []
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and child.args:
            key = child.args[0]
        elif isinstance(child, ast.Subscript):
            key = child.slice
        else:
            continue
        if isinstance(key, ast.Name) and key.id in params:
            found.append(child)
    return found


def _metric_like(text: str) -> bool:
    """A line that may carry metrics: ``key=value`` (ours) or ``key:value`` (the XGBoost
    images' ``[N]#011validation-auc:0.91``), matched later against MetricDefinitions."""
    return "=" in text or ":" in text
