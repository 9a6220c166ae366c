"""Unify Sequences API: `UnifyClient` and `AsyncUnifyClient`.

Request plans live in `_UnifyPlans`, once; each twin's methods only run them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, Literal

import httpx

from sequence_clients.generated.unify import Client as GeneratedUnifyClient
from sequence_clients.generated.unify.api.sequence_enrollments import (
    create_sequence_enrollment,
    create_sequence_enrollment_query_job,
    delete_sequence_enrollment,
    get_sequence_enrollment,
    get_sequence_enrollment_query_job,
    get_sequence_enrollment_query_job_results,
    list_sequence_enrollments,
    pause_sequence_enrollment,
    resume_sequence_enrollment,
)
from sequence_clients.generated.unify.api.sequences import list_sequences
from sequence_clients.generated.unify.models import (
    BulkApiJob,
    BulkApiJobStatus,
    CreateBulkApiSequenceEnrollmentsJobFilter,
    CreateBulkApiSequenceEnrollmentsJobRequest,
    CreateEnrollmentRequest,
    DeleteEnrollmentSuccessResponse,
    Enrollment,
    PauseEnrollmentSuccessResponse,
    ResumeEnrollmentSuccessResponse,
    SequenceEnrollment,
    SequenceEnrollmentStatus,
)
from sequence_clients.generated.unify.models import (
    Sequence as UnifySequence,
)
from sequence_clients.generated.unify.types import UNSET, Unset

from . import _validate
from ._client import DEFAULT_MAX_RETRIES, AsyncClient, SyncClient
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import Call, Plan, RetryPolicy, Sleep, with_retries
from .errors import AlreadyEnrolledError, BulkJobError, InvalidRequestError, SequenceClientError

UNIFY_BASE_URL = "https://api.unifygtm.com"
MAX_PAGE_SIZE = 100  # Unify's documented maximum for `limit`
OnConflict = Literal["raise", "return_existing"]
UuidLike = uuid.UUID | str


class _UnifyPlans:
    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def _call(self, endpoint: Any, **kwargs: Any) -> Plan[Any]:
        return with_retries(Call(endpoint, kwargs), self._policy)

    def enroll(
        self,
        sequence_id: UuidLike,
        person_id: UuidLike,
        mailbox_emails: Sequence[str],
        on_conflict: OnConflict,
    ) -> Plan[Enrollment]:
        _check_on_conflict(on_conflict)
        body = CreateEnrollmentRequest(
            sequence_id=_validate.as_uuid(sequence_id, "sequence_id"),
            person_id=_validate.as_uuid(person_id, "person_id"),
            mailbox_emails=_validate.mailbox_emails(mailbox_emails),
        )
        failures: list[SequenceClientError] = []
        try:
            created: Enrollment = yield from with_retries(
                Call(create_sequence_enrollment, {"body": body}), self._policy, failures=failures
            )
            return created
        except AlreadyEnrolledError as conflict:
            same_sequence = conflict.active_sequence_id == str(body.sequence_id)
            # An earlier attempt that may have been applied and a 409 for this very sequence:
            # that attempt created the enrollment. Returning it is what keeps retries single.
            ours = any(failure.maybe_applied for failure in failures)
            if (
                same_sequence
                and conflict.active_enrollment_id
                and (ours or on_conflict == "return_existing")
            ):
                return (yield from self.get_enrollment(conflict.active_enrollment_id))
            raise

    def get_enrollment(self, enrollment_id: UuidLike) -> Plan[Enrollment]:
        return self._call(
            get_sequence_enrollment, id=_validate.as_uuid(enrollment_id, "enrollment_id")
        )

    def cancel_enrollment(self, enrollment_id: UuidLike) -> Plan[DeleteEnrollmentSuccessResponse]:
        return self._call(
            delete_sequence_enrollment, id=_validate.as_uuid(enrollment_id, "enrollment_id")
        )

    def pause_enrollment(self, enrollment_id: UuidLike) -> Plan[PauseEnrollmentSuccessResponse]:
        return self._call(
            pause_sequence_enrollment, id=_validate.as_uuid(enrollment_id, "enrollment_id")
        )

    def resume_enrollment(self, enrollment_id: UuidLike) -> Plan[ResumeEnrollmentSuccessResponse]:
        return self._call(
            resume_sequence_enrollment, id=_validate.as_uuid(enrollment_id, "enrollment_id")
        )

    def enrollments_page(
        self, filters: dict[str, Any], cursor: str | None
    ) -> Plan[Page[Enrollment]]:
        response = yield from self._call(
            list_sequence_enrollments, cursor=cursor or UNSET, **filters
        )
        return Page(items=response.enrollments, raw=response, next=response.next_cursor or None)

    def sequences_page(self, limit: int, cursor: str | None) -> Plan[Page[UnifySequence]]:
        response = yield from self._call(list_sequences, cursor=cursor or UNSET, limit=limit)
        return Page(items=response.sequences, raw=response, next=response.next_cursor or None)

    def _start_export(
        self, job_filter: CreateBulkApiSequenceEnrollmentsJobFilter | Unset
    ) -> Plan[str]:
        body = CreateBulkApiSequenceEnrollmentsJobRequest(filter_=job_filter)
        created = yield from self._call(create_sequence_enrollment_query_job, body=body)
        delay = 0.25
        while True:  # poll with a growing interval until the job settles
            job: BulkApiJob = yield from self._call(
                get_sequence_enrollment_query_job, job_id=created.job_id
            )
            if job.status == BulkApiJobStatus.FINISHED:
                return job.job_id
            if job.status != BulkApiJobStatus.IN_PROGRESS:
                raise BulkJobError(job.job_id, str(job.status), job.error_code or None)
            yield Sleep(delay)
            delay = min(delay * 2, 5.0)

    def export_page(
        self, job_filter: Any, page_size: int, token: tuple[str, int] | None
    ) -> Plan[Page[SequenceEnrollment]]:
        """The first page starts the bulk job and waits for it; later pages read its results."""
        if token is None:
            job_id, number = (yield from self._start_export(job_filter)), 1
        else:
            job_id, number = token
        response = yield from self._call(
            get_sequence_enrollment_query_job_results,
            job_id=job_id,
            page=number,
            page_size=page_size,
        )
        more = number * response.page_size < response.total and bool(response.data)
        return Page(items=response.data, raw=response, next=(job_id, number + 1) if more else None)


def _check_on_conflict(on_conflict: str) -> None:
    if on_conflict not in ("raise", "return_existing"):
        raise InvalidRequestError(
            f"on_conflict must be 'raise' or 'return_existing', got {on_conflict!r}"
        )


def _enrollment_filters(
    *,
    sequence_id: UuidLike | None,
    person_id: UuidLike | None,
    mailbox_id: UuidLike | None,
    enrolled_by_play_id: UuidLike | None,
    status: Sequence[SequenceEnrollmentStatus | str] | None,
    updated_after: dt.datetime | None,
    updated_before: dt.datetime | None,
    page_size: int,
) -> dict[str, Any]:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidRequestError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size}")
    ids = {
        "sequence_id": sequence_id,
        "person_id": person_id,
        "mailbox_id": mailbox_id,
        "enrolled_by_play_id": enrolled_by_play_id,
    }
    filters: dict[str, Any] = {
        name: _validate.as_uuid(value, name) for name, value in ids.items() if value is not None
    }
    if status is not None:
        try:
            filters["status"] = [SequenceEnrollmentStatus(s) for s in status]
        except ValueError as error:
            raise InvalidRequestError(f"status: {error}") from None
    for name, when in (("updated_after", updated_after), ("updated_before", updated_before)):
        if when is not None:
            if when.tzinfo is None:
                raise InvalidRequestError(f"{name} must be timezone-aware")
            filters[name] = when
    filters["limit"] = page_size
    return filters


def _export_filter(
    sequence_id: UuidLike | None, job_filter: CreateBulkApiSequenceEnrollmentsJobFilter | None
) -> Any:
    from sequence_clients.generated.unify.models import BulkApiUuidFilter

    if job_filter is not None and sequence_id is not None:
        raise InvalidRequestError("pass either sequence_id or filter, not both")
    if sequence_id is not None:
        return CreateBulkApiSequenceEnrollmentsJobFilter(
            sequence=BulkApiUuidFilter(id=str(_validate.as_uuid(sequence_id, "sequence_id")))
        )
    return job_filter if job_filter is not None else UNSET


def _settings(
    api_key: str,
    base_url: str,
    timeout: Any,
    max_retries: int,
    allow_insecure_http: bool,
    retry_policy: RetryPolicy | None,
) -> dict[str, Any]:
    if not api_key:
        raise InvalidRequestError("api_key is required (UNIFY_API_KEY)")
    return {
        "base_url": base_url,
        "timeout": timeout,
        "max_retries": max_retries,
        "allow_insecure_http": allow_insecure_http,
        "retry_policy": retry_policy,
    }


class UnifyClient(SyncClient):
    """Unify Sequences API client. Thread-safe; use as a context manager or call close()."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = UNIFY_BASE_URL,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        allow_insecure_http: bool = False,
        retry_policy: RetryPolicy | None = None,
        httpx_client: httpx.Client | None = None,
    ) -> None:
        settings = _settings(
            api_key, base_url, timeout, max_retries, allow_insecure_http, retry_policy
        )
        super().__init__(
            **settings, init_kwargs={"api_key": api_key, **settings, "httpx_client": httpx_client}
        )
        self._connect(GeneratedUnifyClient, {"x-api-key": api_key}, None, httpx_client)
        self._plans = _UnifyPlans(self._policy)

    def enroll(
        self,
        sequence_id: UuidLike,
        person_id: UuidLike,
        *,
        mailbox_emails: Sequence[str],
        on_conflict: OnConflict = "raise",
    ) -> Enrollment:
        """Enroll a person. Retries never enroll twice. `on_conflict="return_existing"` returns
        the person's active enrollment in this sequence instead of raising AlreadyEnrolledError
        (an active enrollment in another sequence always raises)."""
        return self._run(self._plans.enroll(sequence_id, person_id, mailbox_emails, on_conflict))

    def get_enrollment(self, enrollment_id: UuidLike) -> Enrollment:
        return self._run(self._plans.get_enrollment(enrollment_id))

    def cancel_enrollment(self, enrollment_id: UuidLike) -> DeleteEnrollmentSuccessResponse:
        return self._run(self._plans.cancel_enrollment(enrollment_id))

    def pause_enrollment(self, enrollment_id: UuidLike) -> PauseEnrollmentSuccessResponse:
        return self._run(self._plans.pause_enrollment(enrollment_id))

    def resume_enrollment(self, enrollment_id: UuidLike) -> ResumeEnrollmentSuccessResponse:
        return self._run(self._plans.resume_enrollment(enrollment_id))

    def list_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        person_id: UuidLike | None = None,
        mailbox_id: UuidLike | None = None,
        enrolled_by_play_id: UuidLike | None = None,
        status: Sequence[SequenceEnrollmentStatus | str] | None = None,
        updated_after: dt.datetime | None = None,
        updated_before: dt.datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> SyncPager[Enrollment]:
        """Every matching enrollment, fetched page by page as you iterate (`.pages()` for pages)."""
        filters = _enrollment_filters(
            sequence_id=sequence_id, person_id=person_id, mailbox_id=mailbox_id,
            enrolled_by_play_id=enrolled_by_play_id, status=status,
            updated_after=updated_after, updated_before=updated_before, page_size=page_size,
        )  # fmt: skip
        return self._pager(lambda cursor: self._plans.enrollments_page(filters, cursor))

    def list_sequences(self, *, page_size: int = MAX_PAGE_SIZE) -> SyncPager[UnifySequence]:
        return self._pager(lambda cursor: self._plans.sequences_page(page_size, cursor))

    def export_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        filter: CreateBulkApiSequenceEnrollmentsJobFilter | None = None,
        page_size: int = 1000,
    ) -> SyncPager[SequenceEnrollment]:
        """All matching enrollments through a bulk query job: create, poll, then page results.
        Nothing is sent until iteration starts."""
        job_filter = _export_filter(sequence_id, filter)
        return self._pager(lambda token: self._plans.export_page(job_filter, page_size, token))


class AsyncUnifyClient(AsyncClient):
    """The asyncio twin of UnifyClient: same methods, awaitable, `async for` iterators."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = UNIFY_BASE_URL,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        allow_insecure_http: bool = False,
        retry_policy: RetryPolicy | None = None,
        httpx_client: httpx.AsyncClient | None = None,
    ) -> None:
        settings = _settings(
            api_key, base_url, timeout, max_retries, allow_insecure_http, retry_policy
        )
        super().__init__(
            **settings, init_kwargs={"api_key": api_key, **settings, "httpx_client": httpx_client}
        )
        self._connect(GeneratedUnifyClient, {"x-api-key": api_key}, None, httpx_client)
        self._plans = _UnifyPlans(self._policy)

    async def enroll(
        self,
        sequence_id: UuidLike,
        person_id: UuidLike,
        *,
        mailbox_emails: Sequence[str],
        on_conflict: OnConflict = "raise",
    ) -> Enrollment:
        return await self._run(
            self._plans.enroll(sequence_id, person_id, mailbox_emails, on_conflict)
        )

    async def get_enrollment(self, enrollment_id: UuidLike) -> Enrollment:
        return await self._run(self._plans.get_enrollment(enrollment_id))

    async def cancel_enrollment(self, enrollment_id: UuidLike) -> DeleteEnrollmentSuccessResponse:
        return await self._run(self._plans.cancel_enrollment(enrollment_id))

    async def pause_enrollment(self, enrollment_id: UuidLike) -> PauseEnrollmentSuccessResponse:
        return await self._run(self._plans.pause_enrollment(enrollment_id))

    async def resume_enrollment(self, enrollment_id: UuidLike) -> ResumeEnrollmentSuccessResponse:
        return await self._run(self._plans.resume_enrollment(enrollment_id))

    def list_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        person_id: UuidLike | None = None,
        mailbox_id: UuidLike | None = None,
        enrolled_by_play_id: UuidLike | None = None,
        status: Sequence[SequenceEnrollmentStatus | str] | None = None,
        updated_after: dt.datetime | None = None,
        updated_before: dt.datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncPager[Enrollment]:
        filters = _enrollment_filters(
            sequence_id=sequence_id, person_id=person_id, mailbox_id=mailbox_id,
            enrolled_by_play_id=enrolled_by_play_id, status=status,
            updated_after=updated_after, updated_before=updated_before, page_size=page_size,
        )  # fmt: skip
        return self._pager(lambda cursor: self._plans.enrollments_page(filters, cursor))

    def list_sequences(self, *, page_size: int = MAX_PAGE_SIZE) -> AsyncPager[UnifySequence]:
        return self._pager(lambda cursor: self._plans.sequences_page(page_size, cursor))

    def export_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        filter: CreateBulkApiSequenceEnrollmentsJobFilter | None = None,
        page_size: int = 1000,
    ) -> AsyncPager[SequenceEnrollment]:
        job_filter = _export_filter(sequence_id, filter)
        return self._pager(lambda token: self._plans.export_page(job_filter, page_size, token))
