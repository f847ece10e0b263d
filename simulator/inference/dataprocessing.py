"""DataProcessing of a transform job: InputFilter, JoinSource, OutputFilter, per record.

The developer guide's "Associate prediction results with input records" rules:

* only CSV and JSON (JSON Lines) records; a CSV row is taken as a JSON array of its
  fields, a JSON record as the JSON value it is;
* ``InputFilter`` (JSONPath, default ``$``) selects what the model gets, e.g.
  ``$[1:]`` (all CSV columns but the first) or ``$.features``;
* ``JoinSource: Input`` joins each input record (the whole one, before the input
  filter) with its prediction: CSV — the prediction row's fields appended to the
  input row's; JSON — an object input gets the prediction under ``SageMakerOutput``,
  any other input becomes ``{"SageMakerInput": …, "SageMakerOutput": …}``;
* ``OutputFilter`` (default ``$``) selects what is stored from the joined record (or
  from the prediction when nothing is joined), e.g. ``$[0,-1]``, ``$[0,5:]``,
  ``$['id','SageMakerOutput']``; an index outside the record is an error.

A filter whose last step selects several items (a slice, several indices or names,
``*``) gives a list (an object for names); one index or name gives that value.
JSONPath evaluation is jsonpath-ng's; a bracket mixing indices and slices
(``$[0,5:]``, which jsonpath-ng does not parse) is evaluated part by part.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import Fields, Index, Root, Slice
from jsonpath_ng.ext import parse as parse_jsonpath

CSV_TYPES = ("text/csv",)
JSON_TYPES = ("application/json", "application/jsonlines", "application/x-jsonlines")


class DataProcessingError(ValueError):
    """A record the filters cannot process (wrong format, index out of range, …)."""


_MIXED_BRACKET = re.compile(r"^(?P<head>.*)\[(?P<items>[^\[\]'\"]*:[^\[\]'\"]*)\]$")


@dataclass(frozen=True)
class JsonFilter:
    """One compiled JSONPath filter of DataProcessing."""

    text: str

    def __post_init__(self) -> None:
        self._parts()  # fail at create, not on the first record

    def _parts(self) -> tuple[list[Any], bool]:
        """The parsed paths and whether the filter selects a collection."""
        text = self.text.strip() or "$"
        mixed = _MIXED_BRACKET.match(text)
        if mixed and "," in mixed["items"]:
            head, items = mixed["head"], mixed["items"].split(",")
            return [self._parse(f"{head}[{item.strip()}]") for item in items], True
        path = self._parse(text)
        last = path.right if hasattr(path, "right") else path
        many = (
            isinstance(last, Slice)
            or (isinstance(last, Index) and len(last.indices) > 1)
            or (isinstance(last, Fields) and (len(last.fields) > 1 or last.fields == ("*",)))
        )
        return [path], many

    def _parse(self, text: str) -> Any:
        try:
            return parse_jsonpath(text)
        except Exception as exc:  # jsonpath-ng's lexer raises bare Exceptions
            raise DataProcessingError(
                f"{self.text!r} is not a JSONPath expression SageMaker accepts ({exc}); "
                "examples: '$', '$[1:]', '$[0,-1]', '$.features', \"$['id','SageMakerOutput']\""
            ) from exc

    @property
    def is_identity(self) -> bool:
        return self.text.strip() in ("", "$")

    def apply(self, value: Any) -> Any:
        if self.is_identity:
            return value
        paths, many = self._parts()
        matches = [m for p in paths for m in p.find(value)]
        if not matches:
            raise DataProcessingError(
                f"the filter {self.text!r} selects nothing from the record {_short(value)}"
            )
        if not many:
            if isinstance(paths[0], Root):
                return matches[0].value
            return matches[0].value
        last = paths[0].right if hasattr(paths[0], "right") else paths[0]
        if isinstance(last, Fields) and isinstance(value, dict) and last.fields != ("*",):
            return {str(m.path.fields[0]): m.value for m in matches}
        return [m.value for m in matches]


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _kind(content_type: str | None) -> str:
    base = (content_type or "").split(";")[0].strip().lower()
    if base in CSV_TYPES:
        return "csv"
    if base in JSON_TYPES:
        return "json"
    raise DataProcessingError(
        f"DataProcessing needs CSV or JSON records (ContentType text/csv or application/json"
        f"/jsonlines); got {content_type!r}"
    )


def parse_record(record: bytes, content_type: str | None) -> Any:
    text = record.decode("utf-8").rstrip("\r\n")
    if _kind(content_type) == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        return rows[0] if rows else []
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataProcessingError(f"record is not JSON: {exc}: {text[:200]!r}") from exc


def format_record(value: Any, content_type: str | None) -> bytes:
    if _kind(content_type) == "csv":
        stream = io.StringIO()
        row = value if isinstance(value, list) else [value]
        csv.writer(stream, lineterminator="").writerow(
            [json.dumps(v) if isinstance(v, (dict, list)) else v for v in row]
        )
        return stream.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class DataProcessing:
    """The job's DataProcessing block, compiled."""

    input_filter: JsonFilter
    output_filter: JsonFilter
    join_input: bool

    @classmethod
    def from_request(cls, block: dict[str, Any] | None) -> DataProcessing:
        block = block or {}
        return cls(
            JsonFilter(block.get("InputFilter", "$")),
            JsonFilter(block.get("OutputFilter", "$")),
            block.get("JoinSource", "None") == "Input",
        )

    @property
    def active(self) -> bool:
        return self.join_input or not (
            self.input_filter.is_identity and self.output_filter.is_identity
        )

    def filter_input(self, record: bytes, content_type: str | None) -> bytes:
        if self.input_filter.is_identity:
            return record
        value = self.input_filter.apply(parse_record(record, content_type))
        return format_record(value, content_type)

    def output(
        self, record: bytes, prediction: bytes, content_type: str | None, accept: str | None
    ) -> bytes:
        """The stored line for one input record and its prediction line."""
        if not self.join_input and self.output_filter.is_identity:
            return prediction
        out = parse_record(prediction, accept or content_type)
        if self.join_input:
            source = parse_record(record, content_type)
            if _kind(content_type) == "csv":
                joined = list(source) + (out if isinstance(out, list) else [out])
            elif isinstance(source, dict):
                joined = {**source, "SageMakerOutput": out}
            else:
                joined = {"SageMakerInput": source, "SageMakerOutput": out}
            return format_record(self.output_filter.apply(joined), content_type)
        return format_record(self.output_filter.apply(out), accept or content_type)
