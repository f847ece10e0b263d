"""Calls in the script analysis: argparse, environment reads, inlined local functions.

What a training or processing script reads from its platform — ``--arguments`` parsed by
``argparse`` (SageMaker passes hyperparameters as ``--name value``) and environment variables
(``SM_CHANNEL_*``, ``SM_MODEL_DIR`` ...) — is often read through calls, sometimes through a
small helper of the script's own; those straight-line local functions are inlined at their
call sites (to :data:`MAX_INLINE_DEPTH`) so each read is reported where it is made.
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
    Namespace,
    Param,
    Parser,
    ParserMethod,
    Ref,
    Scope,
    join_path,
)

if TYPE_CHECKING:
    pass
MAX_INLINE_DEPTH = 4


class CallEvaluator:
    """Calls of :class:`~simulator.alignment.script_expressions.ExpressionEvaluator`."""

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
