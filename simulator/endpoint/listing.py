"""List* operations: the service's filters, SortBy/SortOrder, MaxResults + NextToken,
and summaries projected from botocore's summary shapes (never built field by field).

Pagination is moto's declarative ``Paginator`` (an opaque token naming the first item
of the next page and a checksum of the filters, so a token used with other filters is
refused, as on the service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from simulator.errors import Problem, ValidationError
from simulator.shapes import output_shape

# The service's default page size of ListTrainingJobs/ListProcessingJobs (MaxResults).
DEFAULT_MAX_RESULTS = 10


def summary_members(operation: str) -> tuple[str, list[str]]:
    """(the response's list member, the members of one summary) per botocore's model,
    e.g. ("TrainingJobSummaries", ["TrainingJobName", "TrainingJobArn", ...])."""
    out = output_shape(operation)
    key = next(k for k, v in out.members.items() if v.type_name == "list")
    return key, list(out.members[key].member.members)


def time_filters(request: dict[str, Any]) -> list[Callable[[dict[str, Any]], bool]]:
    """The ``<Member>After`` / ``<Member>Before`` filters of a List* request (the service
    compares strictly) as predicates on a summary or description."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for key, value in request.items():
        for suffix, later in (("After", True), ("Before", False)):
            if not key.endswith(suffix) or not isinstance(value, dt.datetime):
                continue
            member = key[: -len(suffix)]  # CreationTimeAfter → CreationTime
            bound = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            tests.append(_compare(member, bound, later))
    return tests


def _compare(member: str, bound: dt.datetime, later: bool) -> Callable[[dict[str, Any]], bool]:
    def test(item: dict[str, Any]) -> bool:
        value = item.get(member)
        if value is None:
            return False
        return value > bound if later else value < bound

    return test


def sort_items(
    items: list[dict[str, Any]], request: dict[str, Any], keys: dict[str, str]
) -> list[dict[str, Any]]:
    """SortBy (one of ``keys``: its enum value → summary member) and SortOrder; the
    service's default is CreationTime, Descending."""
    member = keys.get(request.get("SortBy", "CreationTime"), "CreationTime")
    reverse = request.get("SortOrder", "Descending") == "Descending"

    def key(item: dict[str, Any]) -> Any:
        value = item.get(member)
        return value.lower() if isinstance(value, str) else value

    return sorted(items, key=key, reverse=reverse)


def page(
    operation: str,
    items: list[dict[str, Any]],
    request: dict[str, Any],
    *,
    unique: str,
    default_size: int = DEFAULT_MAX_RESULTS,
) -> dict[str, Any]:
    """One page of ``items`` (already filtered and sorted) as ``operation``'s response."""
    from moto.core.exceptions import InvalidToken
    from moto.utilities.paginator import Paginator

    list_key, _ = summary_members(operation)
    filters = {k: v for k, v in request.items() if k not in ("NextToken", "MaxResults")}
    try:
        paginator = Paginator(
            max_results=request.get("MaxResults"),
            max_results_default=default_size,
            starting_token=request.get("NextToken"),
            unique_attribute=unique,
            param_values_to_check={k: str(v) for k, v in filters.items()},
        )
        results, token = paginator.paginate(items)
    except InvalidToken:
        raise ValidationError(
            f"{operation} request",
            [
                Problem(
                    "NextToken",
                    "is not a token of this listing (or the filters changed)",
                    request.get("NextToken"),
                    "pass the NextToken of the previous page with the same filters",
                )
            ],
        ) from None
    response: dict[str, Any] = {list_key: results}
    if token:
        response["NextToken"] = token
    return response


def project(describe: dict[str, Any], members: Iterable[str]) -> dict[str, Any]:
    """A summary: the members of the summary shape that the description has."""
    return {m: describe[m] for m in members if m in describe}
