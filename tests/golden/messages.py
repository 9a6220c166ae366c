"""The exact wording of the messages a user reads, in one table.

Each case builds a message through the code that makes it (a client answering or failing
through a mock transport, or the error class itself) and names the text it must read, word
for word. Tests elsewhere assert types and attributes (status_code, codes, method, url,
maybe_applied, retry_after…), so a change to a message's wording or frame is one edit here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from sequence_clients import RetryPolicy, UnifyClient, errors
from sequence_clients.generated.unify.api.sequences import pause_sequence

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
]  # fmt: skip
