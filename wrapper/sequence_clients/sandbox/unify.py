"""HTTP layer of the Unify fake: the 23 operations of spec/unify under /sequences/v1.

Handlers are synchronous functions run under the state's lock; they raise ApiError for any
non-2xx answer. Everything is answered in the vendor's JSON shapes, including 404/405 for
unknown routes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .core import ASGIApp
from .data import to_ms
from .unify_bulk import ENROLLMENT_STATUSES, STEP_TYPES, Handler, job_handlers
from .unify_checks import (
    ApiError,
    Errors,
    bad_request,
    check_datetime,
    check_email,
    check_uuid,
    json_response,
    not_found,
    paginate,
)
from .unify_state import EnrollmentRecord, UnifyState

__all__ = ["UnifyState", "build_unify_app"]

Json = dict[str, Any]


# --- sequences ---------------------------------------------------------------------------
def _sequence(state: UnifyState, request: Request) -> Json:
    errors = Errors()
    sequence_id = check_uuid(request.path_params["id"], ["id"], errors)
    errors.raise_if_any()
    sequence = state.sequence(sequence_id or "")
    if sequence is None:
        raise not_found("Sequence not found")
    return sequence


def list_sequences(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    numbered = [
        (n, s)
        for n, s in enumerate(state.sequences, 1)
        if s["id"] not in state.deleted_sequence_ids
    ]
    page, cursor = paginate(request, numbered, key=lambda item: item[0])
    return 200, {"sequences": [s for _, s in page], "next_cursor": cursor}


def retrieve_sequence(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    return 200, _sequence(state, request)


def delete_sequence(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    sequence = _sequence(state, request)
    state.deleted_sequence_ids.add(sequence["id"])
    return 200, {"id": sequence["id"], "is_deleted": True}


def _set_sequence_paused(state: UnifyState, request: Request, paused: bool) -> Json:
    sequence = _sequence(state, request)
    if sequence["is_paused"] == paused:
        word = "paused" if paused else "running"
        raise ApiError(
            409,
            {
                "status": "state_conflict",
                "message": f"Sequence is already {word}",
                "current_is_paused": sequence["is_paused"],
            },
        )
    state.set_sequence_paused(sequence, paused)
    return sequence


def pause_sequence(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    sequence = _set_sequence_paused(state, request, True)
    return 200, {"id": sequence["id"], "is_paused": True}


def resume_sequence(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    return 200, _set_sequence_paused(state, request, False)


def list_sequence_steps(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    sequence = _sequence(state, request)
    errors = Errors()
    types = _enum_list(request, "type", STEP_TYPES, errors)
    errors.raise_if_any()
    steps = [
        (n, step)
        for n, step in enumerate(state.steps[sequence["id"]], 1)
        if not types or step["type"] in types
    ]
    page, cursor = paginate(request, steps, key=lambda item: item[0])
    return 200, {"steps": [step for _, step in page], "next_cursor": cursor}


def retrieve_sequence_step(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    sequence = _sequence(state, request)
    errors = Errors()
    step_id = check_uuid(request.path_params["step_id"], ["step_id"], errors)
    errors.raise_if_any()
    for step in state.steps[sequence["id"]]:
        if step["id"] == step_id:
            return 200, step
    raise not_found("Sequence step not found")


# --- enrollments -------------------------------------------------------------------------
def _enrollment(state: UnifyState, request: Request) -> EnrollmentRecord:
    errors = Errors()
    enrollment_id = check_uuid(request.path_params["id"], ["id"], errors)
    errors.raise_if_any()
    record = state.enrollments.get(enrollment_id or "")
    if record is None:
        raise not_found("Enrollment not found")
    return record


def create_enrollment(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    errors = Errors()
    if not isinstance(body, dict):
        errors.add("invalid_type", [], "Expected object", expected="object")
        errors.raise_if_any()
    sequence_id = check_uuid(body.get("sequence_id"), ["sequence_id"], errors)
    person_id = check_uuid(body.get("person_id"), ["person_id"], errors)
    emails = body.get("mailbox_emails")
    if not isinstance(emails, list):
        errors.add("invalid_type", ["mailbox_emails"], "Expected array", expected="array")
    elif not 1 <= len(emails) <= 10:
        code, bound = ("too_small", "minimum") if not emails else ("too_big", "maximum")
        limit = 1 if not emails else 10
        errors.add(code, ["mailbox_emails"], "Between 1 and 10 mailboxes", **{bound: limit})
    else:
        for i, email in enumerate(emails):
            check_email(email, ["mailbox_emails", i], errors)
    errors.raise_if_any()
    assert sequence_id is not None and person_id is not None and isinstance(emails, list)
    sequence = state.sequence(sequence_id)
    if sequence is None:
        raise not_found("Sequence not found")
    if state.person(person_id) is None:
        raise not_found("Person not found")
    mailboxes = [state.mailbox_by_email(email) for email in emails]
    for i, mailbox in enumerate(mailboxes):
        if mailbox is None:
            errors.add("mailbox_not_found", ["mailbox_emails", i], "No such mailbox")
    errors.raise_if_any("Unknown mailbox")
    active = state.active_enrollment_of(person_id)
    if active is not None:
        raise ApiError(
            409,
            {
                "status": "conflict",
                "message": f"Person {person_id} is already enrolled in an active sequence",
                "active_sequence_id": active.sequence_id,
                "active_enrollment_id": active.id,
            },
        )
    refusal = state.reenrollment_refusal(sequence, person_id)
    if refusal is not None:
        # Not the documented 409: its body must name an active enrollment, and there is none.
        raise bad_request(refusal, ["person_id"], "reenrollment_not_allowed")
    # A paused sequence takes enrollments: pausing halts its enrollments' progress (the
    # docs), it does not close it; the answer's sequence.is_paused says so.
    # "one of which is selected at enrollment time": the sandbox takes the first.
    chosen = mailboxes[0]
    assert chosen is not None
    return 201, state.create_enrollment(sequence_id, person_id, chosen["id"])


def list_enrollments(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    errors = Errors()
    params = request.query_params
    wanted: dict[str, str] = {}
    for name, attr in (
        ("sequence_id", "sequence_id"),
        ("person_id", "person_id"),
        ("mailbox_id", "mailbox_id"),
        ("enrolled_by_play_id", "play_id"),
    ):
        if name in params:
            value = check_uuid(params[name], [name], errors)
            if value is not None:
                wanted[attr] = value
    statuses = _enum_list(request, "status", ENROLLMENT_STATUSES, errors)
    bounds = {}
    for name in ("updated_after", "updated_before"):
        if name in params:
            moment = check_datetime(params[name], [name], errors)
            if moment is not None:
                bounds[name] = moment
    errors.raise_if_any()
    after = bounds.get("updated_after")
    before = bounds.get("updated_before")
    after_ms = to_ms(after) if after else None
    before_ms = to_ms(before) if before else None

    def keep(e: EnrollmentRecord) -> bool:
        return (
            all(getattr(e, attr) == value for attr, value in wanted.items())
            and (not statuses or e.status in statuses)
            and (after_ms is None or e.updated_at >= after_ms)
            and (before_ms is None or e.updated_at <= before_ms)
        )

    records = (e for e in state.enrollments.values() if keep(e))
    page, cursor = paginate(request, records, key=lambda e: e.n)
    return 200, {
        "enrollments": [state.render_enrollment(e) for e in page],
        "next_cursor": cursor,
    }


def get_enrollment(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    return 200, state.render_enrollment(_enrollment(state, request))


def delete_enrollment(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    record = _enrollment(state, request)
    if record.status == "FINISHED" and not record.is_canceled:
        # It ended on its own: nothing to cancel, and its ended_at stays the true one.
        raise bad_request("Only in-progress enrollments can be canceled; this one is FINISHED")
    state.cancel_enrollment(record)  # a second DELETE of a canceled one changes nothing
    return 200, {"id": record.id, "is_canceled": True}


def _set_enrollment_paused(state: UnifyState, request: Request, paused: bool) -> Json:
    record = _enrollment(state, request)
    if not record.active:
        raise bad_request("Only in-progress enrollments can be paused or resumed")
    state.set_paused(record, paused)
    return {"id": record.id, "is_paused": paused}


def pause_enrollment(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    return 200, _set_enrollment_paused(state, request, True)


def resume_enrollment(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
    return 200, _set_enrollment_paused(state, request, False)


def _enum_list(request: Request, name: str, allowed: tuple[str, ...], errors: Errors) -> set[str]:
    values = request.query_params.getlist(name)
    for i, value in enumerate(values):
        if value not in allowed:
            errors.add("invalid_enum_value", [name, i], "Invalid enum value", options=allowed)
    return set(values)


# --- app ---------------------------------------------------------------------------------
def build_unify_app(state: UnifyState) -> ASGIApp:
    def endpoint(
        handler: Handler, reads_body: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            if request.headers.get("x-api-key") not in state.api_keys:
                return json_response(401, {"status": "unauthorized", "message": "Invalid API key"})
            body: Any = None
            if reads_body:
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return json_response(
                            400, {"status": "bad_request", "message": "Invalid JSON"}
                        )
            try:
                with state.lock:
                    result = handler(state, request, body)
            except ApiError as exc:
                return json_response(exc.status, exc.body)
            if isinstance(result, Response):
                return result
            status, payload = result
            return json_response(status, payload)

        return run

    base = "/sequences/v1"
    routes = []
    for prefix, kind in (("enrollments", "enrollments"), ("enrollment-steps", "steps")):
        jobs = job_handlers(kind)
        root = f"{base}/{prefix}/query-jobs"
        routes += [
            Route(root, endpoint(jobs["create"], reads_body=True), methods=["POST"]),
            Route(root, endpoint(jobs["list"]), methods=["GET"]),
            Route(root + "/{job_id}", endpoint(jobs["get"]), methods=["GET"]),
            Route(root + "/{job_id}/cancel", endpoint(jobs["cancel"]), methods=["POST"]),
            Route(root + "/{job_id}/results", endpoint(jobs["results"]), methods=["GET"]),
        ]
    routes += [
        Route(f"{base}/enrollments", endpoint(create_enrollment, True), methods=["POST"]),
        Route(f"{base}/enrollments", endpoint(list_enrollments), methods=["GET"]),
        Route(f"{base}/enrollments/{{id}}", endpoint(get_enrollment), methods=["GET"]),
        Route(f"{base}/enrollments/{{id}}", endpoint(delete_enrollment), methods=["DELETE"]),
        Route(f"{base}/enrollments/{{id}}/pause", endpoint(pause_enrollment), methods=["POST"]),
        Route(f"{base}/enrollments/{{id}}/resume", endpoint(resume_enrollment), methods=["POST"]),
        Route(f"{base}/sequences", endpoint(list_sequences), methods=["GET"]),
        Route(f"{base}/sequences/{{id}}", endpoint(retrieve_sequence), methods=["GET"]),
        Route(f"{base}/sequences/{{id}}", endpoint(delete_sequence), methods=["DELETE"]),
        Route(f"{base}/sequences/{{id}}/pause", endpoint(pause_sequence), methods=["POST"]),
        Route(f"{base}/sequences/{{id}}/resume", endpoint(resume_sequence), methods=["POST"]),
        Route(f"{base}/sequences/{{id}}/steps", endpoint(list_sequence_steps), methods=["GET"]),
        Route(
            f"{base}/sequences/{{id}}/steps/{{step_id}}",
            endpoint(retrieve_sequence_step),
            methods=["GET"],
        ),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 405:
            return json_response(
                405, {"status": "method_not_allowed", "message": "Method not allowed"}
            )
        return json_response(404, {"status": "not_found", "message": "Route not found"})

    return Starlette(routes=routes, exception_handlers={404: http_error, 405: http_error})
