"""Bulk API of the Unify fake: query-job operations, filter validation and result rows.

A filter is validated once when the job is created and normalised (datetimes become epoch
seconds), so evaluating it against thousands of rows stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .data import iso_from_ms, to_ms
from .unify_checks import (
    NDJSON,
    ApiError,
    Errors,
    check_datetime,
    check_int,
    check_uuid,
    ndjson_response,
    not_found,
    paginate,
)
from .unify_state import EnrollmentRecord, Job, UnifyState, step_id

Json = dict[str, Any]

ENROLLMENT_STATUSES = ("DRAFT", "IN_PROGRESS", "FINISHED")
STEP_STATUSES = (
    "NOT_STARTED", "SCHEDULED", "PENDING", "FINISHED", "CANCELED", "ERRORED", "UNREACHABLE",
)  # fmt: skip
STEP_TYPES = (
    "AUTOMATIC_EMAIL", "MANUAL_EMAIL", "ACTION_ITEM", "ZAPIER", "PHONE_CALL",
    "MANUAL_LINKEDIN_PROFILE_VIEW", "MANUAL_LINKEDIN_CONNECTION", "MANUAL_LINKEDIN_MESSAGE",
)  # fmt: skip
EMAIL_STEP_TYPES = ("AUTOMATIC_EMAIL", "MANUAL_EMAIL")
RANGE_KEYS = ("updated_at", "started_at", "ended_at")
UUID_KEYS = ("sequence", "person", "company")
BOOL_KEYS = ("is_blocked", "is_bounced", "is_canceled", "is_opted_out", "is_paused", "is_replied")
# Set filters per job kind: key -> allowed values (None: any string).
SET_KEYS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "enrollments": {"id": None, "status": ENROLLMENT_STATUSES, "enrolled_by_play": None},
    "steps": {"id": None, "status": STEP_STATUSES, "type": STEP_TYPES},
}
DAY_MS = 86400 * 1000
JOB_STATUSES = ("IN_PROGRESS", "FINISHED", "FAILED", "EXPIRED", "CANCELED")
# JSON result pages are capped lower than NDJSON ones (spec: 2,000 vs 10,000).
MAX_JSON_PAGE_SIZE = 2000
MAX_PAGE_SIZE = 10000
DEFAULT_PAGE_SIZE = 100
Handler = Callable[["UnifyState", Request, Any], "tuple[int, Json] | Response"]


def _job(state: UnifyState, request: Request, kind: str) -> Job:
    job = state.jobs.get(request.path_params["job_id"])
    if job is None or job.kind != kind:
        raise not_found("Job not found")
    state.refresh_job(job)
    return job


def job_handlers(kind: str) -> dict[str, Handler]:
    """The five job operations, identical for enrollments and enrollment steps."""

    def create(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
        errors = Errors()
        filter_: Json = {}
        if body is not None and not isinstance(body, dict):
            errors.add("invalid_type", [], "Expected object", expected="object")
        elif body:
            for key in body:
                if key != "filter":
                    errors.add("unrecognized_keys", [], f"Unrecognized key: {key!r}", keys=[key])
            if "filter" in body:
                filter_ = validate_filter(kind, body["filter"], errors)
        errors.raise_if_any()
        job = state.create_job(kind, filter_, lambda job: job_rows(state, job))
        return 201, {
            "job_id": job.id,
            # The spec's create answer only knows IN_PROGRESS, even for a zero-second job.
            "status": "IN_PROGRESS",
            "expires_at": state.render_job(job)["expires_at"],
        }

    def list_(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
        errors = Errors()
        status = request.query_params.get("status")
        if status is not None and status not in JOB_STATUSES:
            errors.add("invalid_enum_value", ["status"], "Invalid enum value", options=JOB_STATUSES)
        errors.raise_if_any()
        jobs = []
        for job in state.jobs.values():
            if job.kind == kind:
                state.refresh_job(job)
                if status is None or job.status == status:
                    jobs.append(job)
        page, cursor = paginate(request, jobs, key=lambda job: job.n)
        return 200, {"jobs": [state.render_job(job) for job in page], "next_cursor": cursor}

    def get(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
        return 200, state.render_job(_job(state, request, kind))

    def cancel(state: UnifyState, request: Request, body: Any) -> tuple[int, Json]:
        job = _job(state, request, kind)
        if job.status != "IN_PROGRESS":
            message = f"Only IN_PROGRESS jobs can be canceled; this one is {job.status}"
            raise ApiError(409, {"status": "job_not_cancelable", "message": message})
        state.cancel_job(job)
        return 200, {"job_id": job.id, "status": "CANCELED"}

    def results(state: UnifyState, request: Request, body: Any) -> tuple[int, Json] | Response:
        job = _job(state, request, kind)
        errors = Errors()
        page = check_int(request.query_params.get("page"), ["page"], errors, 1) or 1
        size = check_int(
            request.query_params.get("page_size"), ["page_size"], errors, 1, MAX_PAGE_SIZE
        )
        errors.raise_if_any()
        not_ready = {
            "IN_PROGRESS": ("results_not_ready", "Job results are not ready yet"),
            "FAILED": ("results_failed", "Job failed and has no results"),
            "CANCELED": ("results_canceled", "Job was canceled and has no results"),
        }
        if job.status == "EXPIRED":
            raise ApiError(410, {"status": "results_expired", "message": "Job results expired"})
        if job.status in not_ready:
            code, message = not_ready[job.status]
            raise ApiError(409, {"status": code, "message": message})
        ndjson = NDJSON in request.headers.get("accept", "")
        size = size or DEFAULT_PAGE_SIZE
        if size > MAX_JSON_PAGE_SIZE and not ndjson:
            message = f"page_size above {MAX_JSON_PAGE_SIZE} needs Accept: {NDJSON}"
            raise ApiError(413, {"status": "results_page_too_large", "message": message})
        rows = job.rows or []
        data = rows[(page - 1) * size : page * size]
        payload = {"total": len(rows), "page": page, "page_size": size, "data": data}
        return ndjson_response(payload) if ndjson else (200, payload)

    return {"create": create, "list": list_, "get": get, "cancel": cancel, "results": results}


def validate_filter(kind: str, raw: Any, errors: Errors) -> Json:
    """Check a job filter against the spec's schema; return it normalised for `matches`."""
    path: list[str | int] = ["filter"]
    if not isinstance(raw, dict):
        errors.add("invalid_type", path, "Expected object", expected="object")
        return {}
    normalised: Json = {}
    set_keys = SET_KEYS[kind]
    for key, value in raw.items():
        where = [*path, key]
        if key in RANGE_KEYS:
            normalised[key] = _range(value, where, errors)
        elif key in UUID_KEYS or (kind == "steps" and key == "enrollment"):
            if _object_with(value, "id", where, errors):
                normalised[key] = value["id"]
        elif key == "mailbox":
            if not isinstance(value, dict) or not ("id" in value or "email_address" in value):
                errors.add("invalid_union", where, "Expected {id} or {email_address}")
            else:
                normalised[key] = {k: str(v) for k, v in value.items()}
        elif key in BOOL_KEYS:
            if isinstance(value, bool):
                normalised[key] = value
            else:
                errors.add("invalid_type", where, "Expected boolean", expected="boolean")
        elif key in set_keys:
            normalised[key] = _set_filter(value, set_keys[key], where, errors)
        elif kind == "steps" and key == "step_number":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                normalised[key] = value
            else:
                errors.add("too_small", where, "Expected an integer >= 1", minimum=1)
        else:
            errors.add("unrecognized_keys", path, f"Unrecognized key: {key!r}", keys=[key])
    return normalised


def matches(filter_: Json, facts: Json) -> bool:
    for key, want in filter_.items():
        have = facts.get(key)
        if key in RANGE_KEYS:
            if have is None or not _in_range(have, want):
                return False
        elif key == "mailbox":
            if "id" in want and want["id"] != facts["mailbox_id"]:
                return False
            if "email_address" in want and want["email_address"].lower() != facts["mailbox_email"]:
                return False
        elif isinstance(want, dict):  # set filter
            if "in" in want and have not in want["in"]:
                return False
            if "not_in" in want and have in want["not_in"]:
                return False
        elif have != want:
            return False
    return True


def job_rows(state: UnifyState, job: Job) -> list[Json]:
    """A job's result rows: every enrollment (or enrollment step) its filter matches."""
    rows: list[Json] = []
    for e in sorted(state.enrollments.values(), key=lambda r: r.n):
        facts = state.enrollment_facts(e)
        if job.kind == "enrollments":
            if matches(job.filter, facts):
                rows.append(enrollment_row(state, e))
        else:
            rows.extend(
                row
                for row, row_facts in step_rows(state, e, facts)
                if matches(job.filter, row_facts)
            )
    return rows


def enrollment_row(state: UnifyState, e: EnrollmentRecord) -> Json:
    """A SequenceEnrollment, the row shape of enrollment query-job results."""
    seq = state.sequence_record(e.sequence_id)
    play = state.play(e.play_id)
    return {
        "id": e.id,
        "updated_at": _iso(e.updated_at),
        "status": e.status,
        "is_blocked": False,
        "is_bounced": False,
        "is_canceled": e.is_canceled,
        "is_opted_out": False,
        "is_paused": e.is_paused,
        "is_replied": e.is_replied,
        "version": e.version,
        "started_at": _iso(e.started_at),
        "ended_at": _iso(e.ended_at),
        "sequence": {"id": seq["id"], "name": seq["name"]},
        "mailbox": _mailbox(state, e.mailbox_id),
        "person": _person(state, e.person_id, with_description=True),
        "enrolled_by_play": {"id": play["id"], "name": play["name"]} if play else None,
        "reply_email_message": state.reply_message(e),
    }


def step_rows(state: UnifyState, e: EnrollmentRecord, facts: Json) -> list[tuple[Json, Json]]:
    """SequenceEnrollmentStep rows of one enrollment, each with the facts filters look at.

    Progress is derived from the enrollment: the first step ran when it started; an active
    enrollment has its next step scheduled; a cancelled one has the rest cancelled.
    """
    seq = state.sequence_record(e.sequence_id)
    mailbox = _mailbox(state, e.mailbox_id)
    started = e.started_at or e.created_at
    rows = []
    for number, step in enumerate(state.steps[e.sequence_id], start=1):
        if number == 1 or (e.status == "FINISHED" and not e.is_canceled):
            status = "FINISHED"
        elif e.is_canceled:
            status = "CANCELED"
        else:
            status = "SCHEDULED" if number == 2 else "NOT_STARTED"
        ran_at = started + (number - 1) * 2 * DAY_MS if status == "FINISHED" else None
        row_id = step_id(e.id, number)
        email: Json | None = None
        if status == "FINISHED" and step["type"] in EMAIL_STEP_TYPES:
            email = {
                "id": row_id,
                "subject": step["config"]["subject"],
                "sent_at": _iso(ran_at),
                "from_email_address": mailbox["email_address"],
                "is_bounced": False,
                "is_opted_out": False,
                "clicks": 0,
                "opens": 1,
            }
        row = {
            "id": row_id,
            "updated_at": _iso(e.updated_at),
            "type": step["type"],
            "status": status,
            "is_blocked": False,
            "is_bounced": False,
            "is_canceled": e.is_canceled,
            "is_opted_out": False,
            "is_paused": e.is_paused,
            "is_replied": e.is_replied,
            "sequence": {"id": seq["id"], "name": seq["name"], "version": 1},
            "step_number": number,
            "started_at": _iso(ran_at),
            "ended_at": _iso(ran_at),
            "enrollment": {
                "id": e.id,
                "mailbox": mailbox,
                "person": _person(state, e.person_id, with_description=False),
            },
            "email_message": email,
            "reply_email_message": None,
        }
        row_facts = facts | {
            "id": row_id,
            "status": status,
            "type": step["type"],
            "step_number": number,
            "enrollment": e.id,
            "started_at": ran_at,
            "ended_at": ran_at,
        }
        rows.append((row, row_facts))
    return rows


def _iso(ms: int | None) -> str | None:
    return None if ms is None else iso_from_ms(ms)


def _mailbox(state: UnifyState, mailbox_id: str) -> Json:
    mailbox = state.mailbox(mailbox_id)
    user = mailbox["user"]
    return {
        "id": mailbox["id"],
        "email_address": mailbox["email"],
        "forward_to_email_address": None,
        "secondary_forward_to_email_address": None,
        "user": {k: user[k] for k in ("id", "email", "first_name", "last_name")},
        "secondary_forward_to_user": None,
    }


def _person(state: UnifyState, person_id: str, with_description: bool) -> Json:
    person = state.person(person_id)
    assert person is not None  # enrollments only ever reference seeded people
    company = dict(person["company"])
    if not with_description:  # the spec: "Present in enrollment results, omitted in steps"
        company.pop("description")
    return {k: person[k] for k in ("id", "email", "first_name", "last_name", "linkedin_url")} | {
        "company": company
    }


def _range(value: Any, where: list[str | int], errors: Errors) -> Json:
    if not isinstance(value, dict) or not value:
        errors.add("invalid_type", where, "Expected a range with at least one bound")
        return {}
    if ("gt" in value and "gte" in value) or ("lt" in value and "lte" in value):
        errors.add("invalid_range", where, "gt/gte and lt/lte are mutually exclusive")
    bounds: Json = {}
    for bound, raw in value.items():
        if bound not in ("gt", "gte", "lt", "lte"):
            errors.add("unrecognized_keys", where, f"Unrecognized key: {bound!r}", keys=[bound])
            continue
        moment = check_datetime(raw, [*where, bound], errors)
        if moment is not None:
            bounds[bound] = to_ms(moment)
    return bounds


def _in_range(value: int, bounds: Json) -> bool:
    return (
        ("gt" not in bounds or value > bounds["gt"])
        and ("gte" not in bounds or value >= bounds["gte"])
        and ("lt" not in bounds or value < bounds["lt"])
        and ("lte" not in bounds or value <= bounds["lte"])
    )


def _object_with(value: Any, key: str, where: list[str | int], errors: Errors) -> bool:
    if not isinstance(value, dict) or key not in value:
        errors.add("invalid_type", [*where, key], "Required", expected="string")
        return False
    return check_uuid(value[key], [*where, key], errors) is not None


def _set_filter(
    value: Any, allowed: tuple[str, ...] | None, where: list[str | int], errors: Errors
) -> Json:
    if not isinstance(value, dict) or not ("in" in value or "not_in" in value):
        errors.add("invalid_union", where, "Expected {in: [...]} or {not_in: [...]}")
        return {}
    result: Json = {}
    for op in ("in", "not_in"):
        if op not in value:
            continue
        items = value[op]
        if not isinstance(items, list) or not items:
            errors.add("too_small", [*where, op], "Expected a non-empty array", minimum=1)
            continue
        for i, item in enumerate(items):
            if not isinstance(item, str) or (allowed is not None and item not in allowed):
                errors.add(
                    "invalid_enum_value", [*where, op, i], "Invalid value", options=allowed or []
                )
        result[op] = set(items) if all(isinstance(i, str) for i in items) else set()
    return result
