"""Loaded by every Python that smsim starts for a job (it is on the job's PYTHONPATH).

Without a container, ``/opt/ml`` does not exist: smsim gives each host a directory and
tells scripts through ``SAGEMAKER_BASE_DIR``. Scripts that hard-code ``/opt/ml`` (the
SageMaker SDK's own ``_repack_model.py`` does) would fail; this maps every file-system
call on a path under ``/opt/ml`` to the host directory in ``SMSIM_OPT_ML_ROOT``, the way
the container's mount would. Other paths are untouched; without ``SMSIM_OPT_ML_ROOT``
(outside a job) nothing is patched.

This is smsim's fallback mode, used only where no mount namespace can be made
(``simulator/hosts/local.py``); in namespace mode ``/opt/ml`` is real and this hook
is not on the path.

What is remapped: ``open``/``io.open``/``io.open_code`` and the ``os`` functions listed below, so
everything built on them in Python (``pathlib``, ``shutil``, ``tarfile``, ``glob``,
``os.walk``, ``os.path.exists``…, json/pickle/numpy/torch loads given a path) and
child Python processes (they inherit the PYTHONPATH and the variable); the path
arguments of the native readers in ``_LIBRARIES`` (pyarrow's parquet/dataset/feather/
csv readers and writers, onnxruntime's InferenceSession) once their module is
imported; and ``/opt/ml`` in the command string of a shell started through
``subprocess`` (``shell=True`` or ``["bash", "-c", …]``).

Limits (a container would have none of them; scripts should prefer SAGEMAKER_BASE_DIR
or the SM_* variables):
* programs that are not Python and not a shell's ``-c`` string, and C/C++ code not in
  ``_LIBRARIES`` that opens paths itself (h5py, sqlite3, a path inside a pyarrow
  dataset's partitions), see the real ``/opt/ml``, which does not exist;
* functions bound before this module runs (``from os import stat`` at interpreter
  start-up) and ``os`` functions not listed here are not remapped;
* paths come back as given: ``os.getcwd()`` after ``os.chdir("/opt/ml/code")`` and
  ``os.path.realpath`` show the host directory or the unmapped string.
"""

from __future__ import annotations

import builtins
import functools
import io
import os

_ROOT = os.environ.get("SMSIM_OPT_ML_ROOT", "")
_PREFIX = "/opt/ml"


def _map(path):  # type: ignore[no-untyped-def]
    if isinstance(path, int):
        return path
    try:
        text = os.fspath(path)
    except TypeError:
        return path
    if isinstance(text, bytes):
        prefix, root = _PREFIX.encode(), os.fsencode(_ROOT)
    else:
        prefix, root = _PREFIX, _ROOT
    if text == prefix or text.startswith(prefix + (b"/" if isinstance(text, bytes) else "/")):
        return root + text[len(prefix) :]
    return path


def _wrap(func, positions=(0,), keywords=("path", "file", "src", "dst")):  # type: ignore[no-untyped-def]
    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        if positions:
            args = tuple(_map(a) if i in positions else a for i, a in enumerate(args))
        for key in keywords:
            if key in kwargs:
                kwargs[key] = _map(kwargs[key])
        return func(*args, **kwargs)

    return wrapper


if _ROOT:
    builtins.open = io.open = _wrap(io.open)
    io.open_code = _wrap(io.open_code)  # runpy.run_path, importlib's source reads
    for _name in (
        "stat",
        "lstat",
        "open",
        "listdir",
        "scandir",
        "mkdir",
        "rmdir",
        "remove",
        "unlink",
        "chmod",
        "chown",
        "lchown",
        "utime",
        "access",
        "readlink",
        "chdir",
        "truncate",
        "listxattr",
        "getxattr",
        "setxattr",
        "removexattr",
        "statvfs",
        "mkfifo",
    ):
        if hasattr(os, _name):
            setattr(os, _name, _wrap(getattr(os, _name)))
    for _name in ("rename", "replace", "link", "symlink"):
        setattr(os, _name, _wrap(getattr(os, _name), positions=(0, 1)))


# Native readers that open a path in C/C++ (past the os/io functions above): module →
# callable (a class: its __init__) → position of its path argument (its keyword too).
_LIBRARIES = {
    "pyarrow.parquet": {
        "read_table": 0,
        "read_pandas": 0,
        "read_schema": 0,
        "read_metadata": 0,
        "write_table": 1,
        "write_to_dataset": 1,
        "ParquetFile": 0,
        "ParquetDataset": 0,
        "ParquetWriter": 0,
    },
    "pyarrow.dataset": {"dataset": 0, "write_dataset": 1},
    "pyarrow.feather": {"read_table": 0, "read_feather": 0, "write_feather": 1},
    "pyarrow.csv": {"read_csv": 0, "open_csv": 0, "write_csv": 1},
    "onnxruntime": {"InferenceSession": 0},
}
_PATH_KEYWORDS = (
    "source",
    "where",
    "path",
    "path_or_paths",
    "root_path",
    "base_dir",
    "dest",
    "input_file",
    "output_file",
    "path_or_bytes",
)


def _map_any(value):  # type: ignore[no-untyped-def]
    if isinstance(value, list):
        return [_map(v) for v in value]
    return _map(value)


def _wrap_library(func, position):  # type: ignore[no-untyped-def]
    @functools.wraps(func)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        if len(args) > position:
            args = (*args[:position], _map_any(args[position]), *args[position + 1 :])
        for key in _PATH_KEYWORDS:
            if key in kwargs:
                kwargs[key] = _map_any(kwargs[key])
        return func(*args, **kwargs)

    return wrapper


def _patch_library(module) -> None:  # type: ignore[no-untyped-def]
    for name, position in _LIBRARIES.get(module.__name__, {}).items():
        target = getattr(module, name, None)
        if target is None or getattr(target, "_smsim_mapped", False):
            continue
        if isinstance(target, type):  # its __init__: the path comes after self
            target.__init__ = _wrap_library(target.__init__, position + 1)
        else:
            target = _wrap_library(target, position)
            setattr(module, name, target)
        target._smsim_mapped = True


class _LibraryFinder:
    """Patches a module of ``_LIBRARIES`` right after it is first imported."""

    def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
        if name not in _LIBRARIES:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module):  # type: ignore[no-untyped-def]
            run(module)
            _patch_library(module)

        loader.exec_module = exec_module
        return spec


def _shell_text(args, shell):  # type: ignore[no-untyped-def]
    """``/opt/ml`` in the command string of a shell a Python program starts."""
    import re

    pattern = re.compile(r"(?<![\w./-])/opt/ml(?![\w-])")
    if shell and isinstance(args, str):
        return pattern.sub(lambda _: _ROOT, args)
    if isinstance(args, (list, tuple)) and len(args) >= 3:
        first = args[0]
        program = (
            os.path.basename(os.fspath(first)) if isinstance(first, (str, os.PathLike)) else ""
        )
        if program in ("sh", "bash", "dash", "zsh", "ksh"):
            out = list(args)
            for i, arg in enumerate(out[1:-1], start=1):
                if isinstance(arg, str) and arg.startswith("-") and "c" in arg[1:]:
                    if isinstance(out[i + 1], str):
                        out[i + 1] = pattern.sub(lambda _: _ROOT, out[i + 1])
                    break
            return out
    return args


def _patch_subprocess() -> None:
    import subprocess

    init = subprocess.Popen.__init__

    @functools.wraps(init)
    def popen_init(self, args, *rest, **kwargs):  # type: ignore[no-untyped-def]
        shell = kwargs.get("shell", rest[7] if len(rest) > 7 else False)
        mapped = [_map(a) for a in args] if isinstance(args, (list, tuple)) else args
        init(self, _shell_text(mapped, shell), *rest, **kwargs)

    subprocess.Popen.__init__ = popen_init


if _ROOT:
    import sys as _sys

    _sys.meta_path.insert(0, _LibraryFinder())
    for _module in list(_LIBRARIES):
        if _module in _sys.modules:
            _patch_library(_sys.modules[_module])
    _patch_subprocess()


def _chain() -> None:
    """Run the sitecustomize this one shadows (the interpreter's own), if any."""
    import importlib.machinery
    import importlib.util
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or not spec.origin:
        return
    if os.path.abspath(spec.origin) == os.path.abspath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_chain()
