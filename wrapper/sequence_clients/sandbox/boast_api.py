"""Handlers of the Boast fake's /v1 API, and the checks they share (see boast.py for the app).

Each handler takes (state, request, account_id, parsed JSON body), runs under the state's lock
with the account already checked, and returns (status, payload) or raises ApiError.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

from .boast_seed import CONTACT_FIELDS
from .boast_state import PAGE_SIZE, BoastState, EnrollmentRecord
from .unify_checks import EMAIL, ApiError

Json = dict[str, Any]
Rendered = tuple[int, Json]
Handler = Callable[[BoastState, Request, str, Any], Rendered]
# E.164: a plus, then up to 15 digits, the first not 0.
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
COUNTRY = re.compile(r"^[A-Za-z]{2}$")


def error(
    status: int, code: str, detail: str, *, pointer: str | None = None, parameter: str | None = None
) -> Json:
    item: Json = {"detail": detail, "code": code, "status": status}
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    elif parameter is not None:
        item["source"] = {"parameter": parameter}
    return item


def fail(status: int, code: str, detail: str, **source: str) -> ApiError:
    return ApiError(status, {"errors": [error(status, code, detail, **source)]})


def check_uuid(value: Any, **source: str) -> str:
    if isinstance(value, str):
        try:
            if str(uuid.UUID(value)) == value.lower():
                return value.lower()
        except ValueError:
            pass
    raise fail(400, "bad_request", "Must be a UUID", **source)


def page_of(request: Request, items: list[Any], render: Callable[[Any], Json]) -> Json:
    raw = request.query_params.get("page", "1")
    try:
        page = int(raw)
    except ValueError:
        page = 0
    if page < 1 or not raw.isdigit():
        raise fail(400, "bad_request", "page must be a positive integer", parameter="page")
    start = (page - 1) * PAGE_SIZE
    return {
        "data": [render(item) for item in items[start : start + PAGE_SIZE]],
        "meta": {
            "pagination": {
                "count": len(items),
                "page": page,
                "items": PAGE_SIZE,
                "pages": -(-len(items) // PAGE_SIZE),
            }
        },
    }


def _same(item: Json) -> Json:
    return item


def _body_object(body: Any) -> Json:
    if not isinstance(body, dict):
        raise fail(400, "bad_request", "The request body must be a JSON object", pointer="")
    return body


# --- handlers ----------------------------------------------------------------------------
def list_accounts(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    return 200, {"data": state.accounts}


def get_account(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    return 200, {"data": state.account(account_id)}


def list_contacts(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    return 200, page_of(request, state.contacts[account_id], _same)


def create_contact(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    fields = _body_object(body)
    problems: list[Json] = []

    def invalid(name: str, detail: str) -> None:
        problems.append(error(422, "invalid", detail, pointer=f"/{name}"))

    for name in (*CONTACT_FIELDS, "source"):
        if name in fields and not isinstance(fields[name], str):
            invalid(name, f"{name} must be a string")
    if problems:
        raise ApiError(422, {"errors": problems})
    if not fields.get("email") and not fields.get("mobile_phone"):
        detail = "Either email or mobile_phone is required"
        problems.append(error(422, "blank", detail, pointer="/email"))
    if "email" in fields and not EMAIL.match(fields["email"]):
        invalid("email", "Email is invalid")
    if "mobile_phone" in fields and not E164.match(fields["mobile_phone"]):
        invalid("mobile_phone", "Mobile phone must be an E.164 formatted phone number")
    if "country_code" in fields and not COUNTRY.match(fields["country_code"]):
        invalid("country_code", "Country code must be an ISO 3166-1 alpha-2 code")
    if fields.get("source", "api") not in ("api", "integration"):
        invalid("source", "Source must be api or integration")
    if problems:
        raise ApiError(422, {"errors": problems})
    if "country_code" in fields:
        fields = fields | {"country_code": fields["country_code"].upper()}
    return 201, {"data": state.create_contact(account_id, fields)}


def list_sequences(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    return 200, page_of(request, state.sequences[account_id], _same)


def list_enrollments(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    params = request.query_params
    wanted: dict[str, str] = {}
    for name in ("contact_id", "sequence_id"):
        if name in params:
            wanted[name] = check_uuid(params[name], parameter=name)
    if "status" in params:
        wanted["status"] = params["status"]
    records = [
        e
        for e in state.enrollments_of(account_id)
        if all(getattr(e, attr) == value for attr, value in wanted.items())
    ]
    return 200, page_of(request, records, lambda e: e.render())


def create_enrollment(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    fields = _body_object(body)
    blank = [name for name in ("contact_id", "sequence_id") if fields.get(name) is None]
    if blank:
        problems = [error(422, "blank", f"{n} is required", pointer=f"/{n}") for n in blank]
        raise ApiError(422, {"errors": problems})
    contact_id = check_uuid(fields["contact_id"], pointer="/contact_id")
    sequence_id = check_uuid(fields["sequence_id"], pointer="/sequence_id")
    if state.contact(account_id, contact_id) is None:
        raise fail(404, "not_found", "Contact not found", pointer="/contact_id")
    sequence = state.sequence(account_id, sequence_id)
    if sequence is None:
        raise fail(404, "not_found", "Sequence not found", pointer="/sequence_id")
    if sequence["status"] != "active":
        detail = f"Sequence is {sequence['status']}, not active"
        raise fail(422, "sequence_not_active", detail, pointer="/sequence_id")
    if state.active_enrollment(contact_id, sequence_id) is not None:
        detail = "Contact is already enrolled in this sequence"
        raise fail(422, "already_enrolled", detail, pointer="/contact_id")
    record = state.create_enrollment(account_id, contact_id, sequence_id)
    return 201, {"data": record.render()}


def _enrollment(state: BoastState, request: Request, account_id: str) -> EnrollmentRecord:
    enrollment_id = check_uuid(request.path_params["enrollment_id"], parameter="enrollment_id")
    record = state.enrollment(account_id, enrollment_id)
    if record is None:
        raise fail(404, "not_found", "Sequence enrollment not found")
    return record


def get_enrollment(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    return 200, {"data": _enrollment(state, request, account_id).render()}


def delete_enrollment(state: BoastState, request: Request, account_id: str, body: Any) -> Rendered:
    record = _enrollment(state, request, account_id)
    if not record.active:
        detail = f"Only active enrollments can be removed; this one is {record.status}"
        raise fail(422, "not_active", detail)
    state.remove_enrollment(record)
    return 200, {"data": record.render()}
