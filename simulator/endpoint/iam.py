"""IAM calls the SageMaker SDKs make when they are constructed, answered so they go on.

* ``SimulatePrincipalPolicy``: SDK v3's ``ModelTrainer`` checks its role with it (moto
  answers HTTP 500). Locally nothing is denied, so every action is ``allowed``.
* ``GetRole`` of a role moto does not hold (``sagemaker.get_execution_role()`` and the
  SDKs' role look-ups): the role as IAM would describe it, instead of NoSuchEntity.

IAM speaks the query protocol (form body, XML answer), so the answers are XML.
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
ANSWERED = ("SimulatePrincipalPolicy", "GetRole")


def is_iam(authorization: str) -> bool:
    """Whether a request is signed for IAM (credential scope ``…/iam/aws4_request``)."""
    return "/iam/aws4_request" in authorization


def form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def answer(params: dict[str, str], account_id: str) -> bytes | None:
    """The XML answer, or None to leave the request to moto."""
    action = params.get("Action", "")
    if action == "SimulatePrincipalPolicy":
        return _simulate(params)
    if action == "GetRole":
        return _get_role(params.get("RoleName", ""), account_id)
    return None


def _simulate(params: dict[str, str]) -> bytes:
    actions = [v for k, v in sorted(params.items(), key=_member_order) if _is_member(k)]
    resources = [v for k, v in params.items() if k.startswith("ResourceArns.member.")] or ["*"]
    members = "".join(
        "<member>"
        f"<EvalActionName>{escape(a)}</EvalActionName>"
        f"<EvalResourceName>{escape(r)}</EvalResourceName>"
        "<EvalDecision>allowed</EvalDecision>"
        "<MatchedStatements/><MissingContextValues/>"
        "</member>"
        for a in actions
        for r in resources
    )
    return _wrap(
        "SimulatePrincipalPolicy",
        f"<IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults>",
    )


def _is_member(key: str) -> bool:
    return key.startswith("ActionNames.member.")


def _member_order(item: tuple[str, str]) -> tuple[int, str]:
    key = item[0]
    tail = key.rsplit(".", 1)[-1]
    return (int(tail) if tail.isdigit() else 0, key)


def _get_role(name: str, account_id: str) -> bytes | None:
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["global"]
    try:
        backend.get_role(name)
        return None  # moto holds it: its own answer
    except Exception:  # noqa: BLE001 - moto's NoSuchEntity
        pass
    created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
    role = (
        f"<Path>/</Path><RoleName>{escape(name)}</RoleName>"
        f"<RoleId>AROA{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:17].upper()}</RoleId>"
        f"<Arn>arn:aws:iam::{account_id}:role/{escape(name)}</Arn>"
        f"<CreateDate>{created}</CreateDate>"
        "<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A"
        "%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A"
        "%22sagemaker.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D"
        "</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>"
    )
    return _wrap("GetRole", f"<Role>{role}</Role>")


def _wrap(action: str, result: str) -> bytes:
    return (
        f'<{action}Response xmlns="{_NS}"><{action}Result>{result}</{action}Result>'
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()
