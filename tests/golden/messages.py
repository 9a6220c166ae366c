"""The exact wording of the messages a user reads, in one table.

Each case builds a message through the code that makes it (a client answering or failing
through a mock transport, or the error class itself) and names the text it must read, word
for word. Tests elsewhere assert types and attributes (status_code, codes, method, url,
maybe_applied, retry_after…), so a change to a message's wording or frame is one edit here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sequence_clients import BoastClient, OAuthToken, RetryPolicy, UnifyClient, _clock, errors
from sequence_clients._pagination import Page, SyncPager
from sequence_clients.generated.unify.api.sequences import pause_sequence
from sequence_clients.oauth import exchange_code

SEQUENCE_ID = uuid.UUID("3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f")
PAUSE_URL = f"https://api.unifygtm.com/sequences/v1/sequences/{SEQUENCE_ID}/pause"
SEQUENCES = "https://api.unifygtm.com/sequences/v1/sequences?limit=100"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], object]  # the error (or text) the user meets
    text: str


def _unify(handler: Handler) -> UnifyClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    policy = RetryPolicy(base_delay=0.001, max_delay=0.002)
    return UnifyClient("secret-key-123", httpx_client=http, retry_policy=policy, max_retries=0)


def pausing(handler: Handler) -> Callable[[], errors.SequenceClientError]:
    """What `unify.call(pause_sequence.operation(...))` raises when `handler` answers."""

    def build() -> errors.SequenceClientError:
        with _unify(handler) as unify:
            try:
                unify.call(pause_sequence.operation(SEQUENCE_ID))
            except errors.SequenceClientError as error:
                return error
        raise AssertionError("the call did not fail")

    return build


def listing(handler: Handler) -> Callable[[], errors.SequenceClientError]:
    """What reading `unify.list_sequences()` raises when `handler` answers."""

    def build() -> errors.SequenceClientError:
        with _unify(handler) as unify:
            try:
                list(unify.list_sequences())
            except errors.SequenceClientError as error:
                return error
        raise AssertionError("the list did not fail")

    return build


def answer(response: httpx.Response) -> Handler:
    return lambda request: response


def raise_(make: Callable[[httpx.Request], Exception]) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise make(request)

    return handle


def refused(text: str) -> errors.InvalidRequestError:
    try:
        with UnifyClient("key") as unify:
            unify.get_enrollment(text)
    except errors.InvalidRequestError as error:
        return error
    raise AssertionError("not refused")


def raised_by(action: Callable[[], object]) -> Callable[[], errors.SequenceClientError]:
    """What `action` raises (it must raise one of ours)."""

    def build() -> errors.SequenceClientError:
        try:
            action()
        except errors.SequenceClientError as error:
            return error
        raise AssertionError("nothing was raised")

    return build


class _Clock:
    """Moves only when the code sleeps, or when a request takes time (`took`)."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    time = monotonic

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def deadline_reached() -> errors.SequenceClientError:
    """A one-second deadline on a call answered 503, each answer taking 0.4 s."""
    clock = _Clock()

    def handle(request: httpx.Request) -> httpx.Response:
        clock.now += 0.4
        return httpx.Response(503, json={"status": "x", "message": "slow down"})

    with _clock.use(clock):
        http = httpx.Client(transport=httpx.MockTransport(handle))
        policy = RetryPolicy(base_delay=0.001, max_delay=0.01)
        with UnifyClient(
            "key", httpx_client=http, retry_policy=policy, max_retries=10, deadline=1.0
        ) as unify:
            return raised_by(lambda: unify.call(pause_sequence.operation(SEQUENCE_ID)))()


def paging(pages: dict[Any, Page[int]]) -> Callable[[], errors.SequenceClientError]:
    """What a pager raises reading `pages` (cursor -> page; a list cursor is looked up as a tuple)."""

    def fetch(token: Any) -> Iterator[Any]:
        return pages[tuple(token) if isinstance(token, list) else token]
        yield  # a plan: a generator

    def run(plan: Any) -> Any:
        try:
            next(plan)
        except StopIteration as done:
            return done.value
        raise AssertionError("the fake plan made a request")

    return raised_by(lambda: list(SyncPager(run, fetch)))


GRANT = {"client_id": "cid", "client_secret": "csecret", "redirect_uri": "https://app.example/cb"}
TOKEN_URL = "https://app.boast.io/oauth/token"


def exchanging(
    handler: Handler, code: str = "c", **grant: str
) -> Callable[[], errors.SequenceClientError]:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return raised_by(lambda: exchange_code(code, **{**GRANT, **grant}, httpx_client=http))


def store_refusing() -> errors.SequenceClientError:
    """A client whose token store cannot save the rotated token."""

    class BrokenStore:
        def save(self, token: OAuthToken) -> None:
            raise PermissionError("read-only file system")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(
                200, json={"access_token": "a1", "token_type": "Bearer", "refresh_token": "r1"}
            )
        return httpx.Response(200, json={"data": []})

    transport = httpx.MockTransport(handle)
    boast = BoastClient(
        account_id=uuid.uuid4(), access_token="a0", refresh_token="r0",
        expires_at=dt.datetime.now(dt.UTC), client_id="id", client_secret="secret",
        token_store=BrokenStore(), httpx_client=httpx.Client(transport=transport),
        auth_httpx_client=httpx.Client(transport=transport),
    )  # fmt: skip
    with boast:
        return raised_by(lambda: list(boast.list_sequences()))()


def enrolling(mailboxes: object, **options: Any) -> Callable[[], errors.SequenceClientError]:
    unify = UnifyClient("key")
    return raised_by(
        lambda: unify.enroll(SEQUENCE_ID, PERSON_ID, mailbox_emails=mailboxes, **options)
    )


def unify_refusing(
    method: str, *args: Any, **kwargs: Any
) -> Callable[[], errors.SequenceClientError]:
    return raised_by(lambda: getattr(UnifyClient("key"), method)(*args, **kwargs))


PERSON_ID = uuid.UUID("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
TEN = [f"rep{n}@example.com" for n in range(10)]
PARTIAL_MESSAGE = (
    "refreshing needs refresh_token, client_id, client_secret and token_store together "
    "(Boast rotates refresh tokens, so each new one must be saved)"
)
LONG_URL = "https://h.example/" + "p" * 400
CODES = [{"code": f"code{n:06}"} for n in range(40)]
_PAUSED = httpx.Response(202, json={"id": str(SEQUENCE_ID), "is_paused": True})

CASES = [
    # A failed send: "METHOD URL: <httpx error>: <its text>".
    *(
        Case(f"send-{kind.__name__}", pausing(raise_(lambda r, k=kind, t=text: k(t))),
             f"POST {PAUSE_URL}: {kind.__name__}: {text}")
        for kind, text in [
            (httpx.ConnectError, "connection refused"),
            (httpx.ConnectTimeout, "connect timed out"),
            (httpx.PoolTimeout, "no free connection"),
            (httpx.ReadTimeout, "read timed out"),
            (httpx.RemoteProtocolError, "peer closed"),
        ]
    ),
    Case("send-listing", listing(raise_(lambda r: httpx.ConnectError("connection refused", request=r))),
         f"GET {SEQUENCES}: ConnectError: connection refused"),
    Case("send-without-text", listing(raise_(lambda r: httpx.ReadError("", request=r))),
         f"GET {SEQUENCES}: ReadError"),
    Case("send-without-its-request", listing(raise_(lambda r: httpx.RemoteProtocolError("peer closed"))),
         f"GET {SEQUENCES}: RemoteProtocolError: peer closed"),
    # An answer the spec does not allow: "METHOD URL -> status: reason; body starts '…'".
    Case("undocumented-status", pausing(answer(_PAUSED)),
         f"POST {PAUSE_URL} -> 202: status the API spec does not document; "
         f"""body starts '{{"id":"{SEQUENCE_ID}","is_paused":true}}'"""),
    Case("not-json", listing(answer(httpx.Response(200, content=b"\xff\xfeOK \xc3"))),
         f"GET {SEQUENCES} -> 200: body is not valid JSON; body starts '\ufffd\ufffdOK \ufffd'"),
    # An error status: "METHOD URL -> status [codes]: message".
    Case("status-without-reason-or-body", pausing(answer(httpx.Response(499))),
         f"POST {PAUSE_URL} -> 499: error"),
    Case("status-body-not-json",
         pausing(answer(httpx.Response(500, content=b"<html>Bad Gateway \xff</html>"))),
         f"POST {PAUSE_URL} -> 500: Internal Server Error "
         "(non-JSON body starts '<html>Bad Gateway \ufffd</html>')"),
    Case("status-body-of-unknown-shape", pausing(answer(httpx.Response(404, json={"oops": 1}))),
         f"""POST {PAUSE_URL} -> 404: Not Found (body starts '{{"oops":1}}')"""),
    Case("status-codes-and-messages",
         pausing(answer(httpx.Response(422, json={
             "status": "invalid",
             "errors": [{"code": "too_long", "message": "name is too long"},
                        {"code": "missing", "detail": "email is missing"}],
         }))),
         f"POST {PAUSE_URL} -> 422 [invalid, too_long, missing]: name is too long; email is missing"),
    Case("status-codes-cut-to-200-characters",
         pausing(answer(httpx.Response(422, json={"message": "refused", "errors": CODES}))),
         f"POST {PAUSE_URL} -> 422 ["
         + ", ".join(f"code{n:06}" for n in range(40))[:200] + "… (278 more characters)]: refused"),
    # Long values are cut, saying how much is left.
    Case("bulk-job-long-values", lambda: errors.BulkJobError("j" * 150, "S" * 101, "E" * 100),
         f"bulk job {'j' * 100}… (50 more characters) ended {'S' * 100}… (1 more characters) "
         f"({'E' * 100})"),
    Case("bulk-job-long-error-code", lambda: errors.BulkJobError("job-1", "FAILED", "E" * 150),
         f"bulk job job-1 ended FAILED ({'E' * 100}… (50 more characters))"),
    Case("bulk-job-empty-error-code", lambda: errors.BulkJobError("j1", "CANCELED", ""),
         "bulk job j1 ended CANCELED"),
    Case("bulk-job-without-error-code", lambda: errors.BulkJobError("j1", "EXPIRED", None),
         "bulk job j1 ended EXPIRED"),
    Case("bulk-job-without-error-code-2", lambda: errors.BulkJobError("job-1", "EXPIRED", None),
         "bulk job job-1 ended EXPIRED"),
    Case("long-id-refused", lambda: refused("x" * 120),
         f"enrollment_id must be a UUID, got {repr('x' * 120)[:100]}… (22 more characters)"),
    Case("method-and-url-cut",
         lambda: errors.APIConnectionError("refused", method="M" * 25, url=LONG_URL, maybe_applied=False),
         f"{'M' * 20}… (5 more characters) {LONG_URL[:300]}… (118 more characters): refused"),
    # Secrets in a URL never reach a message.
    *(
        Case(f"url-redacted-{n}",
             lambda u=url: errors.APIConnectionError(
                 "refused", method="GET", url=errors.redact_url(u), maybe_applied=False),
             f"GET {shown}: refused")
        for n, (url, shown) in enumerate([
            ("https://h.example/v1/x?api_key=s3cret&page=2", "https://h.example/v1/x?api_key=REDACTED&page=2"),
            ("https://h.example/v1/x?cursor=&page=2", "https://h.example/v1/x?cursor=&page=2"),
            ("https://h.example/v1/x?access_token=&page=2", "https://h.example/v1/x?access_token=REDACTED&page=2"),
            ("https://h.example/v1/x", "https://h.example/v1/x"),
        ])
    ),
    # The deadline names the operation's request as planned (its path), not the sent URL.
    Case("deadline-reached", deadline_reached,
         f"POST /sequences/v1/sequences/{SEQUENCE_ID}/pause: deadline of 1s reached (retries and back-off included)"),
    # Paging stopped: how many pages were read, and why.
    Case("pagination-repeated-cursor",
         paging({None: Page([1], raw=None, next="c-a"), "c-a": Page([2], raw=None, next="c-b"),
                 "c-b": Page([3], raw=None, next="c-a")}),
         "pagination stopped after 3 pages: the server repeated the cursor 'c-a'"),
    Case("pagination-previous-page-again",
         paging({None: Page([1, 2], raw=None, next="c-a"), "c-a": Page([1, 2], raw=None, next="c-b")}),
         "pagination stopped after 1 pages: the server sent the previous page again"),
    Case("pagination-repeated-unhashable-cursor",
         paging({None: Page([1], raw=None, next=["a"]), ("a",): Page([2], raw=None, next=["a"])}),
         "pagination stopped after 2 pages: the server repeated the cursor ['a']"),
    # A bulk job that failed.
    Case("bulk-job-failed", lambda: errors.BulkJobError("job-1", "FAILED", "QUERY_TIMEOUT"),
         "bulk job job-1 ended FAILED (QUERY_TIMEOUT)"),
    # OAuth: the token store, the code grant, the token endpoint.
    Case("token-store-failure", store_refusing,
         "token_store.save() raised PermissionError; the rotated OAuth token was not used. "
         "It is kept on this error as .token and offered to the store again next request"),
    *(
        Case(f"grant-missing-{part}", exchanging(lambda r: httpx.Response(500), **{part: ""}),
             "code, client_id, client_secret and redirect_uri are required")
        for part in ["client_id", "client_secret", "redirect_uri"]
    ),
    Case("grant-missing-code", exchanging(lambda r: httpx.Response(500), code=""),
         "code, client_id, client_secret and redirect_uri are required"),
    Case("token-endpoint-out-of-reach",
         exchanging(raise_(lambda r: httpx.ConnectError("connection refused", request=r))),
         f"POST {TOKEN_URL}: ConnectError: connection refused"),
    *(
        Case(f"token-endpoint-{status}",
             exchanging(answer(httpx.Response(status, json={"error": code, "error_description": "try again later"}))),
             f"POST {TOKEN_URL} -> {status} {said}")
        for status, code, said in [
            (503, "temporarily_unavailable", "[temporarily_unavailable]: try again later"),
            (403, "access_denied", "[access_denied]: try again later"),
            (400, "access_denied", "[access_denied]: the token endpoint refused the grant: try again later"),
        ]
    ),
    Case("refresh-credentials-partial",
         raised_by(lambda: BoastClient(access_token="access-0", refresh_token="refresh-0")),
         PARTIAL_MESSAGE),
    Case("refresh-credential-empty",
         raised_by(lambda: BoastClient(access_token="access-0", refresh_token="", client_id="i",
                                       client_secret="s", token_store=object())),
         PARTIAL_MESSAGE),
    Case("access-token-required", raised_by(lambda: BoastClient(access_token="")),
         "access_token is required (or the refresh credentials)"),
    Case("expiry-without-time-zone",
         raised_by(lambda: BoastClient(access_token="a", expires_at=dt.datetime(2030, 1, 1, 12))),
         "expires_at must be a timezone-aware datetime"),
    # Arguments refused before anything is sent.
    *(
        Case(f"mailboxes-{n}", enrolling(mailboxes), text)
        for n, (mailboxes, text) in enumerate([
            ({"rep@example.com"}, "mailbox_emails must be a list of email addresses, got set"),
            (iter(TEN), "mailbox_emails must be a list of email addresses, got list_iterator"),
            (["rep@example.com", "rep at example"], "mailbox_emails must be an email address, got 'rep at example'"),
            ([], "mailbox_emails takes 1 to 10 addresses, got 0"),
            ([*TEN, "one.more@example.com"], "mailbox_emails takes 1 to 10 addresses, got 11"),
            ([*TEN, "one.more@example.com", "REP0@example.com"],
             "mailbox_emails takes 1 to 10 addresses, got 11 once repeats are removed (12 given)"),
        ])
    ),
    Case("on-conflict-unknown", enrolling(["a@b.example"], on_conflict="skip"),
         "on_conflict must be 'raise' or 'return_existing', got 'skip'"),
    Case("enrollment-id-not-a-uuid", unify_refusing("get_enrollment", "not-a-uuid"),
         "enrollment_id must be a UUID, got 'not-a-uuid'"),
    Case("sequence-id-not-a-uuid", unify_refusing("get_sequence", "not-a-uuid"),
         "sequence_id must be a UUID, got 'not-a-uuid'"),
    Case("export-timeout-negative", unify_refusing("export_enrollments", export_timeout=-1),
         "export_timeout must be seconds >= 0, got -1"),
    Case("export-timeout-not-a-number", unify_refusing("export_enrollments", export_timeout="soon"),
         "export_timeout must be seconds >= 0, got 'soon'"),
    Case("export-sequence-and-filter",
         unify_refusing("export_enrollments", sequence_id=uuid.UUID(int=1), filter=object()),
         "pass either sequence_id or filter, not both"),
    Case("export-sequence-not-a-uuid", unify_refusing("export_enrollments", sequence_id="seq"),
         "sequence_id must be a UUID, got 'seq'"),
    *(
        Case(f"page-size-{method}-{size!r}", unify_refusing(method, page_size=size),
             f"page_size must be 1..100, got {size!r}")
        for size in [0, 101, 2.5]
        for method in ["list_enrollments", "list_sequences"]
    ),
    Case("status-unknown", unify_refusing("list_enrollments", status=["DONE"]),
         "status must be among DRAFT, FINISHED, IN_PROGRESS; got ['DONE']"),
    Case("api-key-required", raised_by(lambda: UnifyClient("")), "api_key is required (UNIFY_API_KEY)"),
    Case("account-id-not-a-uuid", raised_by(lambda: BoastClient(access_token="a", account_id="x")),
         "account_id must be a UUID, got 'x'"),
    Case("plain-http-base-url",
         raised_by(lambda: UnifyClient("key", base_url="http://proxy.example.com/?api_key=s3cret")),
         "refusing base URL 'http://proxy.example.com/?api_key=REDACTED': credentials must "
         "travel over https (plain http is allowed to loopback addresses, or with "
         "allow_insecure_http=True)"),
]  # fmt: skip
