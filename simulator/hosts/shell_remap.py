"""Fallback mode: ``/opt/ml`` rewritten to the host tree where no namespace can be made.

Without a mount namespace (macOS, a kernel without unprivileged user namespaces) there
is no ``/opt/ml``; the job gets its host tree's real path instead:

* arguments that are ``/opt/ml/...`` paths, and environment values that are;
* ``/opt/ml`` inside the command string of ``sh -c`` / ``bash -c`` (the SDK v3 job
  command ``/bin/bash -c "chmod +x /opt/ml/input/data/sm_drivers/sm_train.sh && …"``);
* staged shell scripts: every ``*.sh`` of the host tree and any script the argv names
  that starts with a shell ``#!`` (the SDK's ``runproc.sh``, v3's ``sm_train.sh``, a
  ``train.sh`` entry point), rewritten in the job's own copy;
* Python: ``opt_ml_remap/sitecustomize.py`` (see its limits there).

What stays out of reach (namespace mode has none of it): scripts extracted at run time
(``runproc.sh`` unpacks ``sourcedir.tar.gz`` itself), paths built from pieces
(``"/opt/" + "ml"``), native code opening ``/opt/ml`` paths itself (pyarrow's parquet
reader, onnxruntime), and a host tree path the shell would split (spaces, quotes).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from simulator.hosts.layout import CONTAINER_ROOT, map_container_path, rewrite_argument

SHELLS = {"sh", "bash", "dash", "zsh", "ksh"}
MAX_SCRIPT_BYTES = 1 << 20  # a shell script bigger than 1 MiB is data, not a script
# /opt/ml as a path: not part of a longer name (/opt/mlflow) nor of another path (/x/opt/ml).
_OPT_ML = re.compile(r"(?<![\w./-])/opt/ml(?![\w-])")
_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+")


def rewrite_text(text: str, root: Path) -> str:
    """Every ``/opt/ml`` path in a shell text → the host tree's path."""
    return _OPT_ML.sub(lambda _: str(root), text)


def shell_safe(root: Path) -> bool:
    """Whether ``root`` can stand in a shell text unquoted (no space, quote or ``$``)."""
    return _SHELL_SAFE.fullmatch(str(root)) is not None


def is_shell(program: str) -> bool:
    return os.path.basename(program) in SHELLS


def rewrite_argv(argv: list[str], root: Path) -> list[str]:
    """Path arguments and the command string of ``<shell> … -c <string>`` rewritten."""
    out = [rewrite_argument(a, root) for a in argv]
    if out and is_shell(out[0]):
        for i, arg in enumerate(out[1:], start=1):
            if arg.startswith("-") and not arg.startswith("--") and "c" in arg[1:]:
                if i + 1 < len(out):
                    out[i + 1] = rewrite_text(argv[i + 1], root)
                break
            if not arg.startswith("-"):
                break  # a script file, not -c: the script itself is rewritten when staged
    return out


def rewrite_env(env: dict[str, str], root: Path) -> dict[str, str]:
    """Values that are ``/opt/ml`` paths (a request's ``Environment``) → the host tree."""
    return {k: rewrite_argument(v, root) for k, v in env.items()}


def _is_shell_script(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    try:
        with open(path, "rb") as f:
            first = f.readline(200)
    except OSError:
        return False
    if not first.startswith(b"#!"):
        return False
    words = first[2:].decode("latin1").split()
    if not words:
        return False
    name = os.path.basename(words[0])
    if name == "env" and len(words) > 1:
        name = words[1]
    return name in SHELLS


def staged_scripts(root: Path, argv: Iterable[str]) -> list[Path]:
    """The host tree's ``*.sh`` files and the shell scripts the argv names."""
    found: dict[Path, None] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.endswith(".sh"):
                found[Path(dirpath) / name] = None
    for arg in argv:
        mapped = map_container_path(arg, root) if arg.startswith(CONTAINER_ROOT) else None
        if mapped is not None and mapped.is_file() and _is_shell_script(mapped):
            found[mapped] = None
    return [p for p in found if p.is_file() and not p.is_symlink()]


def rewrite_scripts(root: Path, argv: Iterable[str]) -> list[Path]:
    """Rewrite ``/opt/ml`` in the staged shell scripts; returns those changed."""
    changed: list[Path] = []
    for path in staged_scripts(root, argv):
        try:
            if path.stat().st_size > MAX_SCRIPT_BYTES:
                continue
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        new = rewrite_text(text, root)
        if new != text:
            mode = path.stat().st_mode
            path.write_text(new)
            os.chmod(path, mode)
            changed.append(path)
    return changed
