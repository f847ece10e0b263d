"""Expressions of the script analysis: the symbolic evaluator.

:class:`ExpressionEvaluator` gives an expression the value it may hold
(:mod:`simulator.alignment.script_values`): strings and paths through
f-strings, ``+``/``%``/``str.format``, ``os.path`` and ``pathlib``; environment
reads (recorded, and valued with the platform's path or the default);
``argparse`` parsers and the namespaces they return; calls of straight-line
local functions, inlined at their call sites (:mod:`simulator.alignment.script_calls`).
Statements, imports and the order of evaluation are :mod:`simulator.alignment.script_ast`'s.
"""

from __future__ import annotations

import ast
import posixpath
from typing import TYPE_CHECKING, Any

from simulator.alignment.script_facts import UNKNOWN, Location
from simulator.alignment.script_values import (
    NONE,
    BoundMethod,
    DictMethod,
    LocalModule,
    Namespace,
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
from simulator.alignment.script_calls import CallEvaluator

MAX_UNROLL = 32


class ExpressionEvaluator(CallEvaluator):
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


def _metric_like(text: str) -> bool:
    """A line that may carry metrics: ``key=value`` (ours) or ``key:value`` (the XGBoost
    images' ``[N]#011validation-auc:0.91``), matched later against MetricDefinitions."""
    return "=" in text or ":" in text
