"""Property-path syntax: ``properties.A.B['k'].C[0]`` and ``Steps.<StepName>.A.B…``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from simulator.errors import PropertyPathError

PREFIX_PROPERTIES = "properties"
PREFIX_STEPS = "Steps"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STEP_NAME = re.compile(r"[A-Za-z0-9_\-]+")  # SageMaker's step-name pattern, without dots
_INDEX = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Segment:
    """One step of a path: ``.Member``, ``[n]`` or ``['key']``."""

    kind: Literal["member", "index", "key"]
    value: str | int

    def __str__(self) -> str:
        if self.kind == "member":
            return f".{self.value}"
        if self.kind == "index":
            return f"[{self.value}]"
        return f"[{self.value!r}]"


@dataclass(frozen=True)
class ParsedPath:
    """A parsed path: the step it names (``Steps.<name>`` form, else None) and its segments."""

    step_name: str | None
    segments: list[Segment]

    def __str__(self) -> str:
        return path_head(self) + format_segments(self.segments)


def format_segments(segments: list[Segment]) -> str:
    """Segments back to text: ``.A.B['k'][0]``."""
    return "".join(str(s) for s in segments)


def parse_property_path(path: str) -> ParsedPath:
    """Parse ``properties.A.B['k'].C[0]`` or ``Steps.<StepName>.A.B…``.

    Raises PropertyPathError (naming the position and what was expected) on
    text that is not a property path at all.
    """
    if not isinstance(path, str) or not path:
        raise PropertyPathError(f"property path must be a non-empty string, got {path!r}")
    step_name: str | None = None
    if (
        path == PREFIX_PROPERTIES
        or path.startswith(PREFIX_PROPERTIES + ".")
        or path.startswith(PREFIX_PROPERTIES + "[")
    ):
        pos = len(PREFIX_PROPERTIES)
    elif path.startswith(PREFIX_STEPS + "."):
        match = _STEP_NAME.match(path, len(PREFIX_STEPS) + 1)
        if not match:
            raise PropertyPathError(
                f"{path!r}: expected a step name after 'Steps.' (letters, digits, '-' and '_')"
            )
        step_name = match.group()
        pos = match.end()
        # The pipeline definition's form has no "properties." after the step name;
        # accept it anyway, since users copy it from the SDK's `.properties.` objects.
        if path.startswith("." + PREFIX_PROPERTIES + ".", pos):
            pos += len(PREFIX_PROPERTIES) + 1
    else:
        raise PropertyPathError(
            f"{path!r} must start with 'properties.' (a step spec) or 'Steps.<StepName>.' "
            "(a pipeline definition's Get), e.g. 'properties.ModelArtifacts.S3ModelArtifacts'"
        )
    return ParsedPath(step_name=step_name, segments=parse_segments(path, pos))


def parse_segments(path: str, pos: int = 0) -> list[Segment]:
    """The segments of ``path`` from ``pos`` on (``.A[0]`` …); PropertyPathError if malformed."""
    segments: list[Segment] = []
    while pos < len(path):
        char = path[pos]
        if char == ".":
            match = _IDENT.match(path, pos + 1)
            if not match:
                raise PropertyPathError(
                    f"{path!r}: expected a member name after '.' at position {pos}"
                )
            segments.append(Segment("member", match.group()))
            pos = match.end()
        elif char == "[":
            index = _INDEX.match(path, pos)
            if index:
                segments.append(Segment("index", int(index.group(1))))
                pos = index.end()
            elif re.match(r"\[-\d+\]", path[pos:]):
                raise PropertyPathError(
                    f"{path!r}: negative index at position {pos}; SageMaker property paths "
                    "count from the start only: use [0], [1], … or a key such as ['name']"
                )
            else:
                key, pos = _parse_key(path, pos)
                segments.append(Segment("key", key))
        else:
            raise PropertyPathError(
                f"{path!r}: unexpected {char!r} at position {pos}; "
                "expected '.Member', '[n]' or \"['key']\""
            )
    return segments


def _parse_key(path: str, pos: int) -> tuple[str, int]:
    """Parse ``['key']`` or ``["key"]`` starting at the ``[``; backslash escapes a quote."""
    quote = path[pos + 1] if pos + 1 < len(path) else ""
    if quote not in ("'", '"'):
        raise PropertyPathError(
            f"{path!r}: at position {pos} expected [n] (a non-negative integer) or a quoted "
            "key such as ['val:loss']"
        )
    chars: list[str] = []
    i = pos + 2
    while i < len(path):
        if path[i] == "\\" and i + 1 < len(path):
            chars.append(path[i + 1])
            i += 2
            continue
        if path[i] == quote:
            if path[i + 1 : i + 2] != "]":
                raise PropertyPathError(f"{path!r}: expected ']' after the key at position {i}")
            return "".join(chars), i + 2
        chars.append(path[i])
        i += 1
    raise PropertyPathError(f"{path!r}: unterminated key starting at position {pos}")


def path_head(parsed: ParsedPath) -> str:
    """``properties`` or ``Steps.<name>``: the text before the first segment."""
    return f"{PREFIX_STEPS}.{parsed.step_name}" if parsed.step_name else PREFIX_PROPERTIES
