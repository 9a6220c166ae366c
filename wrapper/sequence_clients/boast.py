"""Boast API: `BoastClient` and `AsyncBoastClient`.

Every operation of the generated client runs through the one request path (`call`, `paginate`);
the named methods are one line each on it. Plans remain in `_BoastPlans` only where they add
behaviour — enroll's lookup before a retry, create_contact's never-resend rule — and both twins
run the same plans. OAuth (bearer header, refresh, rotation) is the httpx.Auth in `oauth`, so no
plan ever sees a token.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import TYPE_CHECKING, Any, Self, Unpack

import httpx

# The enum and `types` are plain modules; the generated client and the request models are attrs
# classes, loaded with the first client (`raw`) and the first request body, as the endpoint
# modules are (see unify.py).
from sequence_clients.generated.boast.models import CreateContactRequestSource
from sequence_clients.generated.boast.types import UNSET, ListOperation, Operation, Unset

from . import _config, _telemetry, _validate
from ._client import AsyncClient, ClientArgs, ClientOptions, H, SyncClient, page_plan
from ._common import ItemT, OnConflict, PageT, T, UuidLike, _id, check_on_conflict, id_filters
from ._lazy import LazyModule
from ._pagination import DEFAULT_MAX_PAGES, AsyncPager, Page, PageGuard, SyncPager
from ._plan import Call, Plan, Plans, call, with_retries
from .errors import AlreadyEnrolledError, InvalidRequestError, SequenceClientError
from .oauth import (
    BOAST_AUTH_BASE_URL,
    BoastOAuth,
    OAuthToken,
    TokenKeeper,
    TokenStore,
    token_client,
)

if TYPE_CHECKING:
    from sequence_clients.generated import boast as generated
    from sequence_clients.generated.boast import models
else:
    generated = LazyModule("sequence_clients.generated.boast")
    models = LazyModule("sequence_clients.generated.boast.models")

BOAST_BASE_URL = "https://api.boast.io"  # the host root: generated paths carry /v1
_E164 = re.compile(r"\+[1-9]\d{1,14}")
_CREDENTIALS = {"access_token", "refresh_token", "expires_at", "client_id", "client_secret"}


class BoastOptions(ClientOptions, total=False):
    """What `with_options` can change on a Boast client: ClientOptions and the credentials
    (unset: from BOAST_*). Changing no credential keeps the one token (and its refreshes)
    shared with the original client."""

    account_id: UuidLike | None
    access_token: str | None
    refresh_token: str | None
    expires_at: dt.datetime | None
    client_id: str | None
    client_secret: str | None
    token_store: TokenStore | None
    auth_base_url: str | None


class BoastArgs(BoastOptions, ClientArgs[H], total=False):
    """The Boast constructor's keywords: BoastOptions, `httpx_client` and `auth_httpx_client`
    (the caller's httpx clients for the API host and the OAuth host)."""

    auth_httpx_client: H | None


class _BoastPlans(Plans):
    def enroll(
        self,
        account: uuid.UUID,
        contact_id: UuidLike,
        sequence_id: UuidLike,
        on_conflict: OnConflict,
    ) -> Plan[SequenceEnrollment]:
        on_conflict = check_on_conflict(on_conflict)
        body = models.CreateSequenceEnrollmentRequest(
            contact_id=_id(contact_id, "contact_id"), sequence_id=_id(sequence_id, "sequence_id")
        )
        create = Call(create_sequence_enrollment.operation(account, body=body))
        failures: list[SequenceClientError] = []
        try:
            # Boast has no idempotency key: before retrying a create that may have been applied,
            # look for the enrollment it would have made, and return that instead of a second one.
            created = yield from with_retries(
                create,
                self._policy,
                failures=failures,
                before_retry=lambda _: self._wrapped(self._active(account, body)),
            )
        except AlreadyEnrolledError as conflict:
            existing = yield from self._active(account, body)
            if existing is None:  # removed or completed since the 422: nothing to return
                raise
            conflict.active_enrollment_id = str(existing.id)
            conflict.active_sequence_id = str(existing.sequence_id)
            # After an attempt of ours that may have been applied, the active one is ours.
            ours = any(f.maybe_applied for f in failures)
            if on_conflict == "return_existing" or ours:
                _telemetry.conflict_resolved(
                    vendor="boast", enrollment_id=str(existing.id), ours=ours
                )
                return existing
            raise
        return created.data

    @staticmethod
    def _wrapped(
        found: Plan[SequenceEnrollment | None],
    ) -> Plan[SequenceEnrollmentResponse | None]:
        """The lookup's result in the create's answer shape ({"data": enrollment}), or None."""
        enrollment = yield from found
        return None if enrollment is None else models.SequenceEnrollmentResponse(data=enrollment)

    def _active(
        self, account: uuid.UUID, body: CreateSequenceEnrollmentRequest
    ) -> Plan[SequenceEnrollment | None]:
        """The active enrollment of (contact, sequence), if any. The list filters are our
        assumption, not Boast's documentation: when a page shows them ignored, walk every page
        rather than miss our own enrollment and create a second one."""
        wanted = (body.contact_id, body.sequence_id, "active")
        listing = list_sequence_enrollments.operation(
            account, contact_id=body.contact_id, sequence_id=body.sequence_id, status="active"
        )
        guard = PageGuard(DEFAULT_MAX_PAGES)  # a server paging in circles raises, never loops
        number: str | int | None = None
        while True:
            page = yield from page_plan(listing, self._policy, number)
            guard.admit(number, page)
            found = [e for e in page.items if (e.contact_id, e.sequence_id, e.status) == wanted]
            if found or len(page.items) == len(found):  # found, or the filters were honoured
                return found[0] if found else None
            number = guard.next_token(number, page)
            if number is None:
                return None

    def create_contact(self, account: uuid.UUID, body: CreateContactRequest) -> Plan[Contact]:
        # Not retried after an ambiguous failure: Boast does not say contacts are unique by email,
        # so a retry could create a second contact.
        create = Call(create_contact.operation(account, body=body))
        response = yield from with_retries(create, self._policy, before_retry=_give_up)
        return response.data

    def accounts_page(self, _: object) -> Plan[Page[Account]]:
        response = yield from call(list_accounts.operation(), self._policy)
        return Page(items=response.data, raw=response)  # Boast does not page accounts


def _give_up(error: SequenceClientError) -> Plan[None]:
    raise error
    yield  # a generator: `before_retry` hooks are plans


def _given(value: str | None) -> str | Unset:
    return UNSET if value is None else value


class BoastClient(SyncClient):
    """Boast API client for one account. Thread-safe; use as a context manager or call close().

    Give `refresh_token`, `client_id`, `client_secret` and `token_store` to have the access token
    refreshed as it expires; without them the access token is used until Boast refuses it.
    `deadline` (seconds, optional) bounds each call as a whole, retries and back-off included.
    Every credential and host not passed is read from BOAST_ACCOUNT_ID, BOAST_ACCESS_TOKEN,
    BOAST_REFRESH_TOKEN, BOAST_CLIENT_ID, BOAST_CLIENT_SECRET, BOAST_BASE_URL and
    BOAST_AUTH_BASE_URL (the three refresh ones only with a `token_store`, which must keep each
    rotated refresh token); without an access token: errors.ConfigurationError.
    The other keyword options (timeout, max_retries, rate_limit, …) and their defaults are
    listed in `sequence_clients.ClientOptions`; `httpx_client` and `auth_httpx_client` send on
    clients of yours.
    """

    _vendor = "boast"
    _quota_owner = "client_id"

    def __init__(self, **options: Unpack[BoastArgs[httpx.Client]]) -> None:
        # Unset credentials and hosts come from BOAST_* (sequence_clients._config); what
        # `with_options` re-applies is the arguments so filled in.
        args = _config.boast(self._known(options, BoastArgs), BOAST_BASE_URL, BOAST_AUTH_BASE_URL)
        account_id = args.get("account_id")
        self._account_id = None if account_id is None else _id(account_id, "account_id")
        token = OAuthToken(args["access_token"], args.get("refresh_token"), args.get("expires_at"))
        keeper = TokenKeeper(
            token,
            client_id=args.get("client_id"),
            client_secret=args.get("client_secret"),
            token_store=args.get("token_store"),
        )
        super().__init__(args)
        # Refresh credentials get a connection to the OAuth host, like the API host's (closed
        # with the client); without them there is none, and no token client.
        tokens = None
        if keeper.can_refresh:
            connection = self._open(options.get("auth_httpx_client"))
            insecure = args.get("allow_insecure_http", False)
            tokens = token_client(connection, args["auth_base_url"], self._timeout, insecure)
        self._auth = BoastOAuth(keeper, tokens)
        # The generated client on the same connection pool (every operation is also `call`able).
        http = options.get("httpx_client")
        self.raw = self._connect({}, self._auth, http, generated.Client)
        self._plans = _BoastPlans(self._policy)

    def with_options(self, **changes: Unpack[BoastOptions]) -> Self:
        """A new client with the given options or credentials changed (see BoastOptions); it
        has its own connection pool, and shares the token unless a credential changes."""
        copy = self._copy(changes)
        if not changes.keys() & _CREDENTIALS:  # one token, or rotation would fork it
            copy._auth.keeper = self._auth.keeper
        return copy

    def call(self, operation: Operation[T]) -> T:
        """Run any generated operation — `<module>.operation(...)` from
        `sequence_clients.generated.boast.api` — with retries, timeouts, the token flow and
        typed errors; returns its documented success model."""
        return self._call(operation)

    def paginate(self, operation: ListOperation[PageT, ItemT]) -> SyncPager[ItemT]:
        """Every item of a generated list operation, fetched page by page as you iterate."""
        return self._paginate(operation)

    @property
    def account_id(self) -> uuid.UUID:
        """The account every account-scoped call is made for (InvalidRequestError if none)."""
        if self._account_id is None:
            raise InvalidRequestError("this call needs account_id (list_accounts() shows yours)")
        return self._account_id

    def enroll(
        self, contact_id: UuidLike, sequence_id: UuidLike, *, on_conflict: OnConflict = "raise"
    ) -> SequenceEnrollment:
        """Enroll a contact. Retries never enroll twice. `on_conflict="return_existing"` returns
        the contact's active enrollment in this sequence instead of raising AlreadyEnrolledError."""
        return self._run(self._plans.enroll(self.account_id, contact_id, sequence_id, on_conflict))

    def get_enrollment(self, enrollment_id: UuidLike) -> SequenceEnrollment:
        """The enrollment with this id (NotFoundError if there is none)."""
        enrollment = _id(enrollment_id, "enrollment_id")
        return self._call(get_sequence_enrollment.operation(self.account_id, enrollment)).data

    def remove_enrollment(self, enrollment_id: UuidLike) -> SequenceEnrollment:
        """DELETE; returns the enrollment with status "removed"."""
        enrollment = _id(enrollment_id, "enrollment_id")
        return self._call(delete_sequence_enrollment.operation(self.account_id, enrollment)).data

    def list_enrollments(
        self,
        *,
        contact_id: UuidLike | None = None,
        sequence_id: UuidLike | None = None,
        status: str | None = None,
    ) -> SyncPager[SequenceEnrollment]:
        """Every matching enrollment, fetched page by page as you iterate (`.pages()` for pages)."""
        filters: dict[str, Any] = id_filters(contact_id=contact_id, sequence_id=sequence_id)
        listing = list_sequence_enrollments.operation(
            self.account_id, **filters, status=_given(status)
        )
        return self._paginate(listing)

    def list_accounts(self) -> SyncPager[Account]:
        """The accounts the token can act for (needs no account_id)."""
        return self._pager(self._plans.accounts_page)

    def get_account(self) -> Account:
        """The client's account."""
        return self._call(get_account.operation(self.account_id)).data

    def list_sequences(self) -> SyncPager[BoastSequence]:
        """Every sequence of the account, page by page."""
        return self._paginate(list_sequences.operation(self.account_id))

    def list_contacts(self) -> SyncPager[Contact]:
        """Every contact of the account, page by page."""
        return self._paginate(list_contacts.operation(self.account_id))

    def create_contact(
        self,
        *,
        email: str | None = None,
        mobile_phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        organization: str | None = None,
        job_title: str | None = None,
        time_zone: str | None = None,
        country_code: str | None = None,
        source: str | None = None,
    ) -> Contact:
        """Create a contact (email or mobile_phone required). Not retried once a failed attempt
        may have been applied: Boast could then hold the contact twice."""
        if email is None and mobile_phone is None:
            raise InvalidRequestError("create_contact needs email or mobile_phone")
        if mobile_phone is not None and not (
            isinstance(mobile_phone, str) and _E164.fullmatch(mobile_phone)
        ):
            raise InvalidRequestError(
                f"mobile_phone must be E.164 (+15555555555), got {mobile_phone!r}"
            )
        try:
            checked_source = UNSET if source is None else CreateContactRequestSource(source)
        except ValueError:
            raise InvalidRequestError("source must be 'api' or 'integration'") from None
        # The request, field by field: a parameter's name never decides what is sent.
        body = models.CreateContactRequest(
            email=UNSET if email is None else _validate.as_email(email, "email"),
            mobile_phone=_given(mobile_phone),
            first_name=_given(first_name),
            last_name=_given(last_name),
            organization=_given(organization),
            job_title=_given(job_title),
            time_zone=_given(time_zone),
            country_code=_given(country_code),
            source=checked_source,
        )
        return self._run(self._plans.create_contact(self.account_id, body))


# ---- Everything below is generated by scripts/twins.py from the sync class above. ----
# Edit the sync class, then run `make generate`; `make check-generated` fails if stale.


# What the sync class above takes from the generated package: endpoint modules, bound at
# runtime to a LazyModule that loads on first use (see _lazy), and models for annotations.
if TYPE_CHECKING:
    from sequence_clients.generated.boast.api.accounts import get_account, list_accounts
    from sequence_clients.generated.boast.api.contacts import create_contact, list_contacts
    from sequence_clients.generated.boast.api.sequence_enrollments import (
        create_sequence_enrollment,
        delete_sequence_enrollment,
        get_sequence_enrollment,
        list_sequence_enrollments,
    )
    from sequence_clients.generated.boast.api.sequences import list_sequences
    from sequence_clients.generated.boast.models import (
        Account,
        Contact,
        CreateContactRequest,
        CreateSequenceEnrollmentRequest,
        SequenceEnrollment,
        SequenceEnrollmentResponse,
    )
    from sequence_clients.generated.boast.models import Sequence as BoastSequence
else:
    create_contact = LazyModule("sequence_clients.generated.boast.api.contacts.create_contact")
    create_sequence_enrollment = LazyModule(
        "sequence_clients.generated.boast.api.sequence_enrollments.create_sequence_enrollment"
    )
    delete_sequence_enrollment = LazyModule(
        "sequence_clients.generated.boast.api.sequence_enrollments.delete_sequence_enrollment"
    )
    get_account = LazyModule("sequence_clients.generated.boast.api.accounts.get_account")
    get_sequence_enrollment = LazyModule(
        "sequence_clients.generated.boast.api.sequence_enrollments.get_sequence_enrollment"
    )
    list_accounts = LazyModule("sequence_clients.generated.boast.api.accounts.list_accounts")
    list_contacts = LazyModule("sequence_clients.generated.boast.api.contacts.list_contacts")
    list_sequence_enrollments = LazyModule(
        "sequence_clients.generated.boast.api.sequence_enrollments.list_sequence_enrollments"
    )
    list_sequences = LazyModule("sequence_clients.generated.boast.api.sequences.list_sequences")


class AsyncBoastClient(AsyncClient):
    """The asyncio twin of `BoastClient`: the same methods and arguments, awaitable,
    with `async for` iterators.

    Boast API client for one account. Thread-safe; use as a context manager or call close().

    Give `refresh_token`, `client_id`, `client_secret` and `token_store` to have the access token
    refreshed as it expires; without them the access token is used until Boast refuses it.
    `deadline` (seconds, optional) bounds each call as a whole, retries and back-off included.
    Every credential and host not passed is read from BOAST_ACCOUNT_ID, BOAST_ACCESS_TOKEN,
    BOAST_REFRESH_TOKEN, BOAST_CLIENT_ID, BOAST_CLIENT_SECRET, BOAST_BASE_URL and
    BOAST_AUTH_BASE_URL (the three refresh ones only with a `token_store`, which must keep each
    rotated refresh token); without an access token: errors.ConfigurationError.
    The other keyword options (timeout, max_retries, rate_limit, …) and their defaults are
    listed in `sequence_clients.ClientOptions`; `httpx_client` and `auth_httpx_client` send on
    clients of yours.
    """

    _vendor = "boast"
    _quota_owner = "client_id"

    def __init__(self, **options: Unpack[BoastArgs[httpx.AsyncClient]]) -> None:
        # Unset credentials and hosts come from BOAST_* (sequence_clients._config); what
        # `with_options` re-applies is the arguments so filled in.
        args = _config.boast(self._known(options, BoastArgs), BOAST_BASE_URL, BOAST_AUTH_BASE_URL)
        account_id = args.get("account_id")
        self._account_id = None if account_id is None else _id(account_id, "account_id")
        token = OAuthToken(args["access_token"], args.get("refresh_token"), args.get("expires_at"))
        keeper = TokenKeeper(
            token,
            client_id=args.get("client_id"),
            client_secret=args.get("client_secret"),
            token_store=args.get("token_store"),
        )
        super().__init__(args)
        # Refresh credentials get a connection to the OAuth host, like the API host's (closed
        # with the client); without them there is none, and no token client.
        tokens = None
        if keeper.can_refresh:
            connection = self._open(options.get("auth_httpx_client"))
            insecure = args.get("allow_insecure_http", False)
            tokens = token_client(connection, args["auth_base_url"], self._timeout, insecure)
        self._auth = BoastOAuth(keeper, tokens)
        # The generated client on the same connection pool (every operation is also `call`able).
        http = options.get("httpx_client")
        self.raw = self._connect({}, self._auth, http, generated.Client)
        self._plans = _BoastPlans(self._policy)

    def with_options(self, **changes: Unpack[BoastOptions]) -> Self:
        """A new client with the given options or credentials changed (see BoastOptions); it
        has its own connection pool, and shares the token unless a credential changes."""
        copy = self._copy(changes)
        if not changes.keys() & _CREDENTIALS:  # one token, or rotation would fork it
            copy._auth.keeper = self._auth.keeper
        return copy

    async def call(self, operation: Operation[T]) -> T:
        """Run any generated operation — `<module>.operation(...)` from
        `sequence_clients.generated.boast.api` — with retries, timeouts, the token flow and
        typed errors; returns its documented success model."""
        return await self._call(operation)

    def paginate(self, operation: ListOperation[PageT, ItemT]) -> AsyncPager[ItemT]:
        """Every item of a generated list operation, fetched page by page as you iterate."""
        return self._paginate(operation)

    @property
    def account_id(self) -> uuid.UUID:
        """The account every account-scoped call is made for (InvalidRequestError if none)."""
        if self._account_id is None:
            raise InvalidRequestError("this call needs account_id (list_accounts() shows yours)")
        return self._account_id

    async def enroll(
        self, contact_id: UuidLike, sequence_id: UuidLike, *, on_conflict: OnConflict = "raise"
    ) -> SequenceEnrollment:
        """Enroll a contact. Retries never enroll twice. `on_conflict="return_existing"` returns
        the contact's active enrollment in this sequence instead of raising AlreadyEnrolledError."""
        return await self._run(
            self._plans.enroll(self.account_id, contact_id, sequence_id, on_conflict)
        )

    async def get_enrollment(self, enrollment_id: UuidLike) -> SequenceEnrollment:
        """The enrollment with this id (NotFoundError if there is none)."""
        enrollment = _id(enrollment_id, "enrollment_id")
        return (
            await self._call(get_sequence_enrollment.operation(self.account_id, enrollment))
        ).data

    async def remove_enrollment(self, enrollment_id: UuidLike) -> SequenceEnrollment:
        """DELETE; returns the enrollment with status "removed"."""
        enrollment = _id(enrollment_id, "enrollment_id")
        return (
            await self._call(delete_sequence_enrollment.operation(self.account_id, enrollment))
        ).data

    def list_enrollments(
        self,
        *,
        contact_id: UuidLike | None = None,
        sequence_id: UuidLike | None = None,
        status: str | None = None,
    ) -> AsyncPager[SequenceEnrollment]:
        """Every matching enrollment, fetched page by page as you iterate (`.pages()` for pages)."""
        filters: dict[str, Any] = id_filters(contact_id=contact_id, sequence_id=sequence_id)
        listing = list_sequence_enrollments.operation(
            self.account_id, **filters, status=_given(status)
        )
        return self._paginate(listing)

    def list_accounts(self) -> AsyncPager[Account]:
        """The accounts the token can act for (needs no account_id)."""
        return self._pager(self._plans.accounts_page)

    async def get_account(self) -> Account:
        """The client's account."""
        return (await self._call(get_account.operation(self.account_id))).data

    def list_sequences(self) -> AsyncPager[BoastSequence]:
        """Every sequence of the account, page by page."""
        return self._paginate(list_sequences.operation(self.account_id))

    def list_contacts(self) -> AsyncPager[Contact]:
        """Every contact of the account, page by page."""
        return self._paginate(list_contacts.operation(self.account_id))

    async def create_contact(
        self,
        *,
        email: str | None = None,
        mobile_phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        organization: str | None = None,
        job_title: str | None = None,
        time_zone: str | None = None,
        country_code: str | None = None,
        source: str | None = None,
    ) -> Contact:
        """Create a contact (email or mobile_phone required). Not retried once a failed attempt
        may have been applied: Boast could then hold the contact twice."""
        if email is None and mobile_phone is None:
            raise InvalidRequestError("create_contact needs email or mobile_phone")
        if mobile_phone is not None and not (
            isinstance(mobile_phone, str) and _E164.fullmatch(mobile_phone)
        ):
            raise InvalidRequestError(
                f"mobile_phone must be E.164 (+15555555555), got {mobile_phone!r}"
            )
        try:
            checked_source = UNSET if source is None else CreateContactRequestSource(source)
        except ValueError:
            raise InvalidRequestError("source must be 'api' or 'integration'") from None
        # The request, field by field: a parameter's name never decides what is sent.
        body = models.CreateContactRequest(
            email=UNSET if email is None else _validate.as_email(email, "email"),
            mobile_phone=_given(mobile_phone),
            first_name=_given(first_name),
            last_name=_given(last_name),
            organization=_given(organization),
            job_title=_given(job_title),
            time_zone=_given(time_zone),
            country_code=_given(country_code),
            source=checked_source,
        )
        return await self._run(self._plans.create_contact(self.account_id, body))
