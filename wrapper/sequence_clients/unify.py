"""Unify Sequences API: `UnifyClient` and `AsyncUnifyClient`.

Every operation of the generated client runs through the one request path (`call`, `paginate`);
the named methods are one line each on it. Plans remain in `_UnifyPlans` only where they add
behaviour — enroll's 409 handling and the export job — and both twins run the same plans.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Self, TypeAlias, Unpack

import httpx

# Enums and `types` are plain modules; the generated client and the request models are attrs
# classes, and attrs alone would double what importing this module costs beyond httpx. So they
# load with the first client (`raw`) and the first request body, as the endpoint modules do.
from sequence_clients.generated.unify.models import (
    BulkApiJobStatus,
    SequenceEnrollmentStatus,
    SequenceStepType,
)
from sequence_clients.generated.unify.types import UNSET, ListOperation, Operation, Unset

from . import _config, _telemetry, _validate
from ._client import AsyncClient, ClientArgs, ClientOptions, SyncClient, page_plan
from ._common import ItemT, OnConflict, PageT, T, UuidLike, _id, check_on_conflict, id_filters
from ._lazy import LazyModule
from ._pagination import AsyncPager, Page, SyncPager
from ._plan import Call, Plan, Plans, Sleep, call, with_retries
from .errors import (
    AlreadyEnrolledError,
    BulkJobError,
    DeadlineExceededError,
    InvalidRequestError,
    SequenceClientError,
)

if TYPE_CHECKING:
    from sequence_clients.generated import unify as generated
    from sequence_clients.generated.unify import models
else:
    generated = LazyModule("sequence_clients.generated.unify")
    models = LazyModule("sequence_clients.generated.unify.models")

UNIFY_BASE_URL = "https://api.unifygtm.com"
MAX_PAGE_SIZE = 100  # Unify's documented maximum for `limit`
DEFAULT_EXPORT_TIMEOUT = 600.0  # seconds of waiting for a bulk export job to finish
# A string, so the three step models load with list_sequence_steps rather than with this module.
SequenceStep: TypeAlias = "AutomaticEmailSequenceStep | ManualEmailSequenceStep | TaskSequenceStep"

# Documented terminal states other than FINISHED; any other status (IN_PROGRESS, or one a later
# release adds, such as QUEUED) means the job is still running.
_JOB_FAILED = frozenset(
    {BulkApiJobStatus.FAILED, BulkApiJobStatus.CANCELED, BulkApiJobStatus.EXPIRED}
)
_FIRST_POLL_DELAY, _MAX_POLL_DELAY = 0.25, 5.0


class UnifyOptions(ClientOptions, total=False):
    """What `with_options` can change on a Unify client."""

    api_key: str


class _UnifyPlans(Plans):
    def enroll(
        self,
        sequence_id: UuidLike,
        person_id: UuidLike,
        mailbox_emails: Sequence[str],
        on_conflict: OnConflict,
    ) -> Plan[Enrollment]:
        on_conflict = check_on_conflict(on_conflict)
        body = models.CreateEnrollmentRequest(
            sequence_id=_id(sequence_id, "sequence_id"),
            person_id=_id(person_id, "person_id"),
            mailbox_emails=_validate.mailbox_emails(mailbox_emails),
        )
        failures: list[SequenceClientError] = []
        create = Call(create_sequence_enrollment.operation(body=body))
        try:
            return (yield from with_retries(create, self._policy, failures=failures))
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
                enrollment_id = _id(conflict.active_enrollment_id, "active_enrollment_id")
                existing = yield from call(
                    get_sequence_enrollment.operation(enrollment_id), self._policy
                )
                _telemetry.conflict_resolved(
                    vendor="unify", enrollment_id=str(enrollment_id), ours=ours
                )
                return existing
            raise

    def _finished_job(
        self, job_filter: CreateBulkApiSequenceEnrollmentsJobFilter | Unset, timeout: float
    ) -> Plan[str]:
        """Start an export job and poll it, at growing intervals, until it is FINISHED."""
        body = models.CreateBulkApiSequenceEnrollmentsJobRequest(filter_=job_filter)
        created = yield from call(
            create_sequence_enrollment_query_job.operation(body=body), self._policy
        )
        status_of = get_sequence_enrollment_query_job.operation(created.job_id)
        waited, delay = 0.0, _FIRST_POLL_DELAY
        while True:
            job = yield from call(status_of, self._policy)
            if job.status == BulkApiJobStatus.FINISHED:
                return job.job_id
            if job.status in _JOB_FAILED:
                raise BulkJobError(job.job_id, str(job.status), job.error_code or None)
            if waited >= timeout:
                raise DeadlineExceededError(
                    f"bulk job {job.job_id} still {job.status} after {waited:g}s (export_timeout)",
                    method="GET", url=status_of.request["url"], maybe_applied=False,
                )  # fmt: skip
            delay = min(delay, timeout - waited)
            yield Sleep(delay)
            waited += delay
            delay = min(delay * 2, _MAX_POLL_DELAY)

    def export_page(
        self,
        job_filter: CreateBulkApiSequenceEnrollmentsJobFilter | Unset,
        page_size: int,
        timeout: float,
        token: tuple[str, int | str] | None,
    ) -> Plan[Page[SequenceEnrollment]]:
        """The first page starts the bulk job and waits for it; later pages read its results."""
        if token is None:
            job_id, number = (yield from self._finished_job(job_filter, timeout)), None
        else:
            job_id, number = token
        results = get_sequence_enrollment_query_job_results.operation(
            job_id, page=1, page_size=page_size
        )
        page = yield from page_plan(results, self._policy, number)
        # The job travels with the page number, so the pager's guards see one token per page.
        return replace(
            page,
            next=None if page.next is None else (job_id, page.next),
            served=None if page.served is None else (job_id, page.served),
        )


def _page_size(page_size: int) -> int:
    if not (isinstance(page_size, int) and 1 <= page_size <= MAX_PAGE_SIZE):
        raise InvalidRequestError(f"page_size must be 1..{MAX_PAGE_SIZE}, got {page_size!r}")
    return page_size


class UnifyClient(SyncClient):
    """Unify Sequences API client. Thread-safe; use as a context manager or call close().

    `deadline` (seconds, optional) bounds each call as a whole: every attempt, back-off and
    Retry-After wait included (each page of a list is one call). `api_key` and `base_url`
    default to UNIFY_API_KEY and UNIFY_BASE_URL; without a key: errors.ConfigurationError.
    The other keyword options (timeout, max_retries, rate_limit, …) and their defaults are
    listed in `sequence_clients.ClientOptions`; `httpx_client` sends on a client of yours."""

    _vendor = "unify"
    _quota_owner = "api_key"

    def __init__(
        self, api_key: str | None = None, **options: Unpack[ClientArgs[httpx.Client]]
    ) -> None:
        given = self._known(options, ClientArgs)
        # Unset: UNIFY_API_KEY and UNIFY_BASE_URL (ConfigurationError without a key).
        api_key, base_url = _config.unify(api_key, options.get("base_url"), UNIFY_BASE_URL)
        if not api_key:
            raise InvalidRequestError("api_key is required (UNIFY_API_KEY)")
        # What `with_options` re-applies: the resolved key and host, the rest as given.
        super().__init__({**given, "api_key": api_key, "base_url": base_url})
        # The generated client on the same connection pool (every operation is also `call`able).
        http = options.get("httpx_client")
        self.raw = self._connect({"x-api-key": api_key}, None, http, generated.Client)
        self._plans = _UnifyPlans(self._policy)

    def with_options(self, **changes: Unpack[UnifyOptions]) -> Self:
        """A new client with the same credentials and the given options changed
        (`max_retries`, `timeout`, `deadline`, `base_url`, `rate_limit`, …). It has its own
        connection pool, and the same rate limit unless `rate_limit` is changed."""
        return self._copy(changes)

    def call(self, operation: Operation[T]) -> T:
        """Run any generated operation — `<module>.operation(...)` from
        `sequence_clients.generated.unify.api` — with retries, timeouts and typed errors;
        returns its documented success model."""
        return self._call(operation)

    def paginate(self, operation: ListOperation[PageT, ItemT]) -> SyncPager[ItemT]:
        """Every item of a generated list operation, fetched page by page as you iterate."""
        return self._paginate(operation)

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
        """The enrollment with this id (NotFoundError if there is none)."""
        return self._call(get_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id")))

    def cancel_enrollment(self, enrollment_id: UuidLike) -> DeleteEnrollmentSuccessResponse:
        """Cancel (DELETE) an enrollment: the person leaves the sequence."""
        return self._call(delete_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id")))

    def pause_enrollment(self, enrollment_id: UuidLike) -> PauseEnrollmentSuccessResponse:
        """Pause an enrollment until it is resumed."""
        return self._call(pause_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id")))

    def resume_enrollment(self, enrollment_id: UuidLike) -> ResumeEnrollmentSuccessResponse:
        """Resume a paused enrollment."""
        return self._call(resume_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id")))

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
        filters: dict[str, Any] = id_filters(
            sequence_id=sequence_id, person_id=person_id, mailbox_id=mailbox_id,
            enrolled_by_play_id=enrolled_by_play_id,
        )  # fmt: skip
        if status is not None:
            filters["status"] = _validate.members(status, SequenceEnrollmentStatus, "status")
        for name, when in (("updated_after", updated_after), ("updated_before", updated_before)):
            if when is None:
                continue
            if not isinstance(when, dt.datetime):
                raise InvalidRequestError(
                    f"{name} must be a timezone-aware datetime, got {type(when).__name__} {when!r}"
                )
            if when.tzinfo is None:
                raise InvalidRequestError(f"{name} must be timezone-aware")
            filters[name] = when
        limit = _page_size(page_size)
        return self._paginate(list_sequence_enrollments.operation(**filters, limit=limit))

    def list_sequences(self, *, page_size: int = MAX_PAGE_SIZE) -> SyncPager[UnifySequence]:
        """Every sequence of the workspace, page by page."""
        return self._paginate(list_sequences.operation(limit=_page_size(page_size)))

    def get_sequence(self, sequence_id: UuidLike) -> UnifySequence:
        """The sequence with this id (NotFoundError if there is none)."""
        return self._call(retrieve_sequence.operation(_id(sequence_id, "sequence_id")))

    def pause_sequence(self, sequence_id: UuidLike) -> PauseSequenceSuccessResponse:
        """Pause a sequence: all of its enrollments stop until it is resumed."""
        return self._call(pause_sequence.operation(_id(sequence_id, "sequence_id")))

    def resume_sequence(self, sequence_id: UuidLike) -> UnifySequence:
        """Resume a paused sequence; returns it."""
        return self._call(resume_sequence.operation(_id(sequence_id, "sequence_id")))

    def delete_sequence(self, sequence_id: UuidLike) -> DeleteSequenceSuccessResponse:
        """Delete a sequence."""
        return self._call(delete_sequence.operation(_id(sequence_id, "sequence_id")))

    def list_sequence_steps(
        self,
        sequence_id: UuidLike,
        *,
        types: Sequence[SequenceStepType | str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> SyncPager[SequenceStep]:
        """The sequence's steps (automatic emails, manual emails, tasks), page by page."""
        sequence = _id(sequence_id, "sequence_id")
        limit = _page_size(page_size)
        kinds = UNSET if types is None else _validate.members(types, SequenceStepType, "step types")
        return self._paginate(list_sequence_steps.operation(sequence, limit=limit, type_=kinds))

    def export_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        filter: CreateBulkApiSequenceEnrollmentsJobFilter | None = None,
        page_size: int = 1000,
        export_timeout: float = DEFAULT_EXPORT_TIMEOUT,
    ) -> SyncPager[SequenceEnrollment]:
        """All matching enrollments through a bulk query job: create, poll at growing intervals
        until FINISHED (BulkJobError if it fails, is canceled or expires; DeadlineExceededError
        after `export_timeout` seconds of waiting), then page results. Nothing is sent until
        iteration starts."""
        if filter is not None and sequence_id is not None:
            raise InvalidRequestError("pass either sequence_id or filter, not both")
        job_filter = UNSET if filter is None else filter
        if sequence_id is not None:
            by_id = models.BulkApiUuidFilter(id=str(_id(sequence_id, "sequence_id")))
            job_filter = models.CreateBulkApiSequenceEnrollmentsJobFilter(sequence=by_id)
        if not (isinstance(export_timeout, int | float) and export_timeout >= 0):
            raise InvalidRequestError(
                f"export_timeout must be seconds >= 0, got {export_timeout!r}"
            )
        timeout = float(export_timeout)
        return self._pager(
            lambda token: self._plans.export_page(job_filter, page_size, timeout, token)
        )


# ---- Everything below is generated by scripts/twins.py from the sync class above. ----
# Edit the sync class, then run `make generate`; `make check-generated` fails if stale.


# What the sync class above takes from the generated package: endpoint modules, bound at
# runtime to a LazyModule that loads on first use (see _lazy), and models for annotations.
if TYPE_CHECKING:
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
    from sequence_clients.generated.unify.api.sequences import (
        delete_sequence,
        list_sequence_steps,
        list_sequences,
        pause_sequence,
        resume_sequence,
        retrieve_sequence,
    )
    from sequence_clients.generated.unify.models import (
        AutomaticEmailSequenceStep,
        CreateBulkApiSequenceEnrollmentsJobFilter,
        DeleteEnrollmentSuccessResponse,
        DeleteSequenceSuccessResponse,
        Enrollment,
        ManualEmailSequenceStep,
        PauseEnrollmentSuccessResponse,
        PauseSequenceSuccessResponse,
        ResumeEnrollmentSuccessResponse,
        SequenceEnrollment,
        TaskSequenceStep,
    )
    from sequence_clients.generated.unify.models import Sequence as UnifySequence
else:
    create_sequence_enrollment = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.create_sequence_enrollment"
    )
    create_sequence_enrollment_query_job = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.create_sequence_enrollment_query_job"
    )
    delete_sequence = LazyModule("sequence_clients.generated.unify.api.sequences.delete_sequence")
    delete_sequence_enrollment = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.delete_sequence_enrollment"
    )
    get_sequence_enrollment = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.get_sequence_enrollment"
    )
    get_sequence_enrollment_query_job = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.get_sequence_enrollment_query_job"
    )
    get_sequence_enrollment_query_job_results = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.get_sequence_enrollment_query_job_results"
    )
    list_sequence_enrollments = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.list_sequence_enrollments"
    )
    list_sequence_steps = LazyModule(
        "sequence_clients.generated.unify.api.sequences.list_sequence_steps"
    )
    list_sequences = LazyModule("sequence_clients.generated.unify.api.sequences.list_sequences")
    pause_sequence = LazyModule("sequence_clients.generated.unify.api.sequences.pause_sequence")
    pause_sequence_enrollment = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.pause_sequence_enrollment"
    )
    resume_sequence = LazyModule("sequence_clients.generated.unify.api.sequences.resume_sequence")
    resume_sequence_enrollment = LazyModule(
        "sequence_clients.generated.unify.api.sequence_enrollments.resume_sequence_enrollment"
    )
    retrieve_sequence = LazyModule(
        "sequence_clients.generated.unify.api.sequences.retrieve_sequence"
    )


class AsyncUnifyClient(AsyncClient):
    """The asyncio twin of `UnifyClient`: the same methods and arguments, awaitable,
    with `async for` iterators.

    Unify Sequences API client. Thread-safe; use as a context manager or call close().

    `deadline` (seconds, optional) bounds each call as a whole: every attempt, back-off and
    Retry-After wait included (each page of a list is one call). `api_key` and `base_url`
    default to UNIFY_API_KEY and UNIFY_BASE_URL; without a key: errors.ConfigurationError.
    The other keyword options (timeout, max_retries, rate_limit, …) and their defaults are
    listed in `sequence_clients.ClientOptions`; `httpx_client` sends on a client of yours."""

    _vendor = "unify"
    _quota_owner = "api_key"

    def __init__(
        self, api_key: str | None = None, **options: Unpack[ClientArgs[httpx.AsyncClient]]
    ) -> None:
        given = self._known(options, ClientArgs)
        # Unset: UNIFY_API_KEY and UNIFY_BASE_URL (ConfigurationError without a key).
        api_key, base_url = _config.unify(api_key, options.get("base_url"), UNIFY_BASE_URL)
        if not api_key:
            raise InvalidRequestError("api_key is required (UNIFY_API_KEY)")
        # What `with_options` re-applies: the resolved key and host, the rest as given.
        super().__init__({**given, "api_key": api_key, "base_url": base_url})
        # The generated client on the same connection pool (every operation is also `call`able).
        http = options.get("httpx_client")
        self.raw = self._connect({"x-api-key": api_key}, None, http, generated.Client)
        self._plans = _UnifyPlans(self._policy)

    def with_options(self, **changes: Unpack[UnifyOptions]) -> Self:
        """A new client with the same credentials and the given options changed
        (`max_retries`, `timeout`, `deadline`, `base_url`, `rate_limit`, …). It has its own
        connection pool, and the same rate limit unless `rate_limit` is changed."""
        return self._copy(changes)

    async def call(self, operation: Operation[T]) -> T:
        """Run any generated operation — `<module>.operation(...)` from
        `sequence_clients.generated.unify.api` — with retries, timeouts and typed errors;
        returns its documented success model."""
        return await self._call(operation)

    def paginate(self, operation: ListOperation[PageT, ItemT]) -> AsyncPager[ItemT]:
        """Every item of a generated list operation, fetched page by page as you iterate."""
        return self._paginate(operation)

    async def enroll(
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
        return await self._run(
            self._plans.enroll(sequence_id, person_id, mailbox_emails, on_conflict)
        )

    async def get_enrollment(self, enrollment_id: UuidLike) -> Enrollment:
        """The enrollment with this id (NotFoundError if there is none)."""
        return await self._call(
            get_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id"))
        )

    async def cancel_enrollment(self, enrollment_id: UuidLike) -> DeleteEnrollmentSuccessResponse:
        """Cancel (DELETE) an enrollment: the person leaves the sequence."""
        return await self._call(
            delete_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id"))
        )

    async def pause_enrollment(self, enrollment_id: UuidLike) -> PauseEnrollmentSuccessResponse:
        """Pause an enrollment until it is resumed."""
        return await self._call(
            pause_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id"))
        )

    async def resume_enrollment(self, enrollment_id: UuidLike) -> ResumeEnrollmentSuccessResponse:
        """Resume a paused enrollment."""
        return await self._call(
            resume_sequence_enrollment.operation(_id(enrollment_id, "enrollment_id"))
        )

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
        """Every matching enrollment, fetched page by page as you iterate (`.pages()` for pages)."""
        filters: dict[str, Any] = id_filters(
            sequence_id=sequence_id, person_id=person_id, mailbox_id=mailbox_id,
            enrolled_by_play_id=enrolled_by_play_id,
        )  # fmt: skip
        if status is not None:
            filters["status"] = _validate.members(status, SequenceEnrollmentStatus, "status")
        for name, when in (("updated_after", updated_after), ("updated_before", updated_before)):
            if when is None:
                continue
            if not isinstance(when, dt.datetime):
                raise InvalidRequestError(
                    f"{name} must be a timezone-aware datetime, got {type(when).__name__} {when!r}"
                )
            if when.tzinfo is None:
                raise InvalidRequestError(f"{name} must be timezone-aware")
            filters[name] = when
        limit = _page_size(page_size)
        return self._paginate(list_sequence_enrollments.operation(**filters, limit=limit))

    def list_sequences(self, *, page_size: int = MAX_PAGE_SIZE) -> AsyncPager[UnifySequence]:
        """Every sequence of the workspace, page by page."""
        return self._paginate(list_sequences.operation(limit=_page_size(page_size)))

    async def get_sequence(self, sequence_id: UuidLike) -> UnifySequence:
        """The sequence with this id (NotFoundError if there is none)."""
        return await self._call(retrieve_sequence.operation(_id(sequence_id, "sequence_id")))

    async def pause_sequence(self, sequence_id: UuidLike) -> PauseSequenceSuccessResponse:
        """Pause a sequence: all of its enrollments stop until it is resumed."""
        return await self._call(pause_sequence.operation(_id(sequence_id, "sequence_id")))

    async def resume_sequence(self, sequence_id: UuidLike) -> UnifySequence:
        """Resume a paused sequence; returns it."""
        return await self._call(resume_sequence.operation(_id(sequence_id, "sequence_id")))

    async def delete_sequence(self, sequence_id: UuidLike) -> DeleteSequenceSuccessResponse:
        """Delete a sequence."""
        return await self._call(delete_sequence.operation(_id(sequence_id, "sequence_id")))

    def list_sequence_steps(
        self,
        sequence_id: UuidLike,
        *,
        types: Sequence[SequenceStepType | str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncPager[SequenceStep]:
        """The sequence's steps (automatic emails, manual emails, tasks), page by page."""
        sequence = _id(sequence_id, "sequence_id")
        limit = _page_size(page_size)
        kinds = UNSET if types is None else _validate.members(types, SequenceStepType, "step types")
        return self._paginate(list_sequence_steps.operation(sequence, limit=limit, type_=kinds))

    def export_enrollments(
        self,
        *,
        sequence_id: UuidLike | None = None,
        filter: CreateBulkApiSequenceEnrollmentsJobFilter | None = None,
        page_size: int = 1000,
        export_timeout: float = DEFAULT_EXPORT_TIMEOUT,
    ) -> AsyncPager[SequenceEnrollment]:
        """All matching enrollments through a bulk query job: create, poll at growing intervals
        until FINISHED (BulkJobError if it fails, is canceled or expires; DeadlineExceededError
        after `export_timeout` seconds of waiting), then page results. Nothing is sent until
        iteration starts."""
        if filter is not None and sequence_id is not None:
            raise InvalidRequestError("pass either sequence_id or filter, not both")
        job_filter = UNSET if filter is None else filter
        if sequence_id is not None:
            by_id = models.BulkApiUuidFilter(id=str(_id(sequence_id, "sequence_id")))
            job_filter = models.CreateBulkApiSequenceEnrollmentsJobFilter(sequence=by_id)
        if not (isinstance(export_timeout, int | float) and export_timeout >= 0):
            raise InvalidRequestError(
                f"export_timeout must be seconds >= 0, got {export_timeout!r}"
            )
        timeout = float(export_timeout)
        return self._pager(
            lambda token: self._plans.export_page(job_filter, page_size, timeout, token)
        )
