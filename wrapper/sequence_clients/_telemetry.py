"""What the request path tells an operator: log lines, OpenTelemetry spans and metrics, and
per-client counters — one call per decision, from `_pipeline` and `_plan`.

Logs go to the `sequence_clients` logger (docs/observability.md lists every line):
DEBUG each attempt and each rate-limit wait; INFO a retry, a Retry-After pause shared through
the rate limit, a conflict resolved to the existing enrollment, giving up, a token refresh and
a wait for another refresher; WARNING a wait the server asked for that is longer than the retry
policy honours, a body over `max_response_bytes` and a revoked grant. Every record carries structured `extra` fields, `event` naming the
decision. `SEQUENCE_CLIENTS_LOG=debug|info` attaches a stderr handler at import, as
`OPENAI_LOG` does.

OpenTelemetry is optional (`pip install 'sequence-clients[otel]'`, the API only): imported once,
on the first call that could record (`_api`); without it every function below is a plain branch. With the API but no SDK configured the
tracer and meter are the API's no-op ones, and attributes are only computed for a span that
records. A call is an INTERNAL span named after its operationId; each attempt a CLIENT span
following the HTTP client semantic conventions. No secret reaches any of them: URLs go through
`errors.redact_url`, headers and bodies are never recorded.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from .errors import redact_url

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

logger = logging.getLogger("sequence_clients")

# OpenTelemetry's API is imported on the first call that could record, not here: installed
# beside a service, it would cost a fifth of `from sequence_clients import UnifyClient`.
if TYPE_CHECKING:
    from opentelemetry import metrics as _otel_metrics
    from opentelemetry import trace as _otel_trace
    from opentelemetry.metrics._internal import _ProxyMeterProvider
else:
    _otel_trace = _otel_metrics = None
# The API's stand-in until an SDK is set (then nothing would record an instrument).
_proxy_meter_provider: type[_ProxyMeterProvider] | None = None
_api_loaded: bool | None = None  # None: not tried yet; False: the [otel] extra is absent


def _api() -> bool:
    """Whether OpenTelemetry's API is there (imported once, on first use)."""
    global _api_loaded, _otel_trace, _otel_metrics, _proxy_meter_provider
    if _api_loaded is None:
        try:
            from opentelemetry import metrics, trace
        except ImportError:  # without the [otel] extra, telemetry is logs and counters only
            _api_loaded = False
            return False
        _otel_trace, _otel_metrics = trace, metrics
        try:  # the API's stand-in until an SDK is set: not exported, so looked up defensively
            from opentelemetry.metrics._internal import _ProxyMeterProvider as proxy
        except ImportError:  # a release that moved it: then instruments are made and record
            pass
        else:
            _proxy_meter_provider = proxy
        _api_loaded = True
    return _api_loaded


INSTRUMENTATION = "sequence_clients"

# Event names: span events, the `event` extra of log records, and what oauth.py passes to
# `event()` for the token flow.
ATTEMPT = "sequence_clients.attempt"
LIMIT_WAIT = "sequence_clients.rate_limit.wait"
RETRY = "sequence_clients.retry"
PAUSE = "sequence_clients.retry_after.pause"
CONFLICT_RESOLVED = "sequence_clients.conflict.resolved"
GAVE_UP = "sequence_clients.gave_up"
TOKEN_REFRESH = "sequence_clients.token.refresh"
TOKEN_WAIT = "sequence_clients.token.wait_for_refresher"
TOKEN_REVOKED = "sequence_clients.token.revoked"


@dataclass(slots=True)
class ClientStats:
    """Running totals of one client's decisions (`client.stats`), e.g. for a progress line.

    Thread-safe; `snapshot()` gives a consistent copy. Copies made by `with_options` keep
    their own totals."""

    attempts: int = 0  # requests sent, retries included
    retries: int = 0  # attempts that followed a failed one
    rate_limited: int = 0  # answers with status 429
    limiter_waits: int = 0  # times a request waited for a slot of the rate limit
    limiter_wait_seconds: float = 0.0  # time spent in those waits
    pauses: int = 0  # Retry-After pauses passed on to the shared rate limit
    conflicts_resolved: int = 0  # enrollments that already existed, returned as the answer
    gave_up: int = 0  # calls that ended in an error
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> ClientStats:
        with self._lock:
            return replace(self, _lock=threading.Lock())


class _Instruments:
    """The metric instruments, made on first use from whatever meter provider is set then."""

    def __init__(self) -> None:
        meter = _otel_metrics.get_meter(INSTRUMENTATION)
        self.duration = meter.create_histogram(
            "http.client.request.duration", unit="s", description="Duration of HTTP requests"
        )
        self.retries = meter.create_counter(
            "sequence_clients.retries", unit="{retry}", description="Requests sent again"
        )
        self.rate_limited = meter.create_counter(
            "sequence_clients.rate_limited", unit="{response}", description="429 answers"
        )
        self.refreshes = meter.create_counter(
            "sequence_clients.token.refreshes", unit="{refresh}", description="Token refreshes"
        )
        self.limit_wait = meter.create_counter(
            "sequence_clients.rate_limit.wait_time",
            unit="s",
            description="Time spent waiting for a slot of the rate limit",
        )


_instruments: _Instruments | None = None


def _metrics() -> _Instruments | None:
    """The instruments, or None while no SDK is set up (nothing would record them)."""
    global _instruments
    if not _api():
        return None
    if _instruments is None:
        provider = _otel_metrics.get_meter_provider()
        if isinstance(provider, _otel_metrics.NoOpMeterProvider) or (
            _proxy_meter_provider is not None and isinstance(provider, _proxy_meter_provider)
        ):
            return None
        _instruments = _Instruments()
    return _instruments


_tracer_of: tuple[object, Tracer] | None = None  # (the provider it came from, the tracer)


def _tracer() -> Tracer | None:
    """The tracer of the SDK the application configured, or None: no API, or no SDK set up
    (the API's proxy or no-op provider), and then no span is made at all. Read at each call,
    so an SDK configured after import is picked up."""
    global _tracer_of
    if not _api():
        return None
    provider = _otel_trace.get_tracer_provider()
    if isinstance(provider, _otel_trace.ProxyTracerProvider | _otel_trace.NoOpTracerProvider):
        return None
    known = _tracer_of
    if known is None or known[0] is not provider:
        known = _tracer_of = (provider, provider.get_tracer(INSTRUMENTATION))
    return known[1]


class CallTrace:
    """One call (a plan driven to its end): its span, the client's counters, resend counts.

    A context manager of its own (`with call(stats)`): current while the plan runs, so attempts
    and events land in it, and giving up, logged and counted, when it ends in an error. A class
    rather than a @contextmanager generator: it is entered on every call."""

    def __init__(self, stats: ClientStats | None) -> None:
        self.stats = stats
        self.span: Span | None = None
        self.tracer: Tracer | None = None
        self._sent: dict[int, tuple[object, int]] = {}  # id(call step) -> (step, attempts)
        self._entered: AbstractContextManager[Span] | None = None
        self._token: Token[CallTrace | None] | None = None

    def __enter__(self) -> CallTrace:
        self._token = _current.set(self)
        self.tracer = tracer = _tracer()
        if tracer is not None:
            self._entered = tracer.start_as_current_span("sequence_clients.call")
            self.span = self._entered.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(error, Exception):
                _gave_up(self, error)  # inside the span: the event is the call's
        finally:
            try:
                if self._entered is not None:
                    self._entered.__exit__(kind, error, tb)
            finally:
                if self._token is not None:
                    _current.reset(self._token)

    def name(self, operation_id: str) -> None:
        """The call span is named after the operation of the call's first request."""
        if self.span is not None and not self._sent:
            self.span.update_name(operation_id)

    def resends(self, step: object) -> int:
        """How many times `step` (one Call of the plan) was sent before in this call."""
        kept = self._sent.get(id(step))
        count = 0 if kept is None else kept[1]
        self._sent[id(step)] = (step, count + 1)  # keeps `step` alive, so its id stays its own
        return count


_current: ContextVar[CallTrace | None] = ContextVar("sequence_clients_call", default=None)


def call(stats: ClientStats | None) -> CallTrace:
    """Around one call (`with call(stats):`): its span and giving up; see CallTrace."""
    return CallTrace(stats)


def _gave_up(trace: CallTrace, error: Exception) -> None:
    if trace.stats is not None:
        trace.stats.add(gave_up=1)
    if not logger.isEnabledFor(logging.INFO) and trace.span is None:
        return
    fields: dict[str, object] = {"error_type": type(error).__name__}
    for name in ("method", "url", "status_code"):
        if (value := getattr(error, name, None)) is not None:
            fields[name] = value
    fields["attempts"] = sum(count for _, count in trace._sent.values())
    _event(GAVE_UP, "giving up after %(attempts)s attempt(s): %(error_type)s", logging.INFO, fields)


def attempt(
    step: object, request: httpx.Request, *, template: str | None, operation_id: str
) -> Attempt:
    """One request on the wire (`with attempt(...) as record:`): a CLIENT span (current while
    it is sent, so the auth flow's events land in it), the DEBUG line, the attempt counters, and
    its duration metric."""
    trace = _current.get()
    resends = 0
    if trace is not None:
        trace.name(operation_id)
        resends = trace.resends(step)
        if trace.stats is not None:
            trace.stats.add(attempts=1, retries=1 if resends else 0)
    record = Attempt(request, template=template, trace=trace, resends=resends)
    if logger.isEnabledFor(logging.DEBUG):
        method, url = record.method, record.url
        logger.debug(
            "sending %s %s (attempt %d)", method, url, resends + 1,
            extra={"event": ATTEMPT, "method": method, "url": url, "attempt": resends + 1,
                   "operation_id": operation_id},
        )  # fmt: skip
    return record


def token_request(request: httpx.Request, *, template: str) -> Attempt:
    """A request sent outside a plan (the OAuth token request, inside the call that needed a
    token, or alone for a first token): a CLIENT span like an attempt's and the duration
    metric, but none of the call's counters (it is not an attempt of the call's own request)."""
    return Attempt(request, template=template, trace=None)


class Attempt:
    """What one attempt learned, reported when its answer (or failure) is known. Entered, it
    is the attempt's CLIENT span, when a tracer records (a class, not a @contextmanager
    generator: it is entered on every request)."""

    def __init__(
        self,
        request: httpx.Request,
        *,
        template: str | None,
        trace: CallTrace | None,
        resends: int = 0,
    ) -> None:
        self.request = request
        self.method = request.method
        self.template = template
        self.trace = trace
        self.resends = resends
        self.span: Span | None = None
        self._entered: AbstractContextManager[Span] | None = None

    def __enter__(self) -> Attempt:
        # The call's tracer when in one (looked up once per call), else the current one.
        tracer = self.trace.tracer if self.trace is not None else _tracer()
        if tracer is None:  # no SDK (or no API): no span
            return self
        name = self.method if self.template is None else f"{self.method} {self.template}"
        self._entered = tracer.start_as_current_span(
            name,
            kind=_otel_trace.SpanKind.CLIENT,
            record_exception=False,
            set_status_on_exception=False,
        )
        self.span = span = self._entered.__enter__()
        if span.is_recording():
            span.set_attributes(self.attributes(self.resends))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entered is not None:
            self._entered.__exit__(kind, error, tb)

    @functools.cached_property
    def url(self) -> str:
        """The request's URL with secret-looking query values redacted: made only when a log
        line or a recording span needs it."""
        return redact_url(self.request.url)

    def attributes(self, resends: int) -> dict[str, Any]:
        parsed = self.request.url
        found: dict[str, Any] = {
            "http.request.method": self.method,
            "server.address": parsed.host,
            "server.port": parsed.port or (443 if parsed.scheme == "https" else 80),
            "url.full": self.url,
        }
        if self.template is not None:
            found["url.template"] = self.template
        if resends:
            found["http.request.resend_count"] = resends
        return found

    def answered(self, status: int | None, seconds: float, error: BaseException | None) -> None:
        """The status the server gave (None: no answer) and the error this attempt ends in."""
        if status == 429 and self.trace is not None and self.trace.stats is not None:
            self.trace.stats.add(rate_limited=1)
        error_type = None
        if error is not None:
            error_type = (
                str(status) if status is not None and status >= 400 else type(error).__name__
            )
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s answered %s in %.3fs", self.method, self.url,
                status if status is not None else f"nothing ({error_type})", seconds,
                extra={"event": ATTEMPT, "method": self.method, "url": self.url,
                       "status_code": status, "seconds": seconds, "error_type": error_type},
            )  # fmt: skip
        instruments = _metrics()
        if instruments is None:
            return
        labels: dict[str, Any] = {
            "http.request.method": self.method,
            "server.address": self.request.url.host,
        }
        if status is not None:
            labels["http.response.status_code"] = status
        if error_type is not None:
            labels["error.type"] = error_type
        instruments.duration.record(seconds, labels)
        if status == 429:
            instruments.rate_limited.add(1, {"server.address": labels["server.address"]})
        span = self.span
        if span is not None and span.is_recording():
            if status is not None:
                span.set_attribute("http.response.status_code", status)
            if error_type is not None:
                span.set_attribute("error.type", error_type)
                span.set_status(_otel_trace.Status(_otel_trace.StatusCode.ERROR))


def event(name: str, message: str, *, level: int = logging.INFO, **fields: object) -> None:
    """A decision: a span event on the current span (the attempt's or the call's) and a log
    record with `fields` as its `extra` (and `event=name`). `message` is %-formatted with the
    fields. Callers pass no secret: fields become span attributes and log fields as they are.
    oauth.py reports a token refresh with `event(TOKEN_REFRESH, ...)` (also counted), a wait
    for another refresher with `event(TOKEN_WAIT, ...)` and a revoked grant with
    `event(TOKEN_REVOKED, ..., level=logging.WARNING)`."""
    _event(name, message, level, fields)


def _event(name: str, message: str, level: int, fields: Mapping[str, object]) -> None:
    if name == TOKEN_REFRESH and (instruments := _metrics()) is not None:
        instruments.refreshes.add(1)
    if logger.isEnabledFor(level):
        extra = {f"field_{k}" if k in _RECORD_ATTRIBUTES else k: v for k, v in fields.items()}
        logger.log(level, message, fields, extra={"event": name, **extra})
    if _api():
        span = _otel_trace.get_current_span()
        if span.is_recording():
            span.add_event(name, {k: _attribute(v) for k, v in fields.items() if v is not None})


# A LogRecord refuses `extra` keys that name its own attributes ("name", "args", …).
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _attribute(value: object) -> str | int | float | bool:
    return value if isinstance(value, str | int | float | bool) else str(value)


def limiter_waited(seconds: float) -> None:
    """A request waited `seconds` for a slot of the rate limit (DEBUG; counted)."""
    trace = _current.get()
    if trace is not None and trace.stats is not None:
        trace.stats.add(limiter_waits=1, limiter_wait_seconds=seconds)
    if (instruments := _metrics()) is not None:
        instruments.limit_wait.add(seconds)
    event(LIMIT_WAIT, "waiting %(seconds).3fs for the rate limit", level=logging.DEBUG,
          seconds=seconds)  # fmt: skip


def retrying(fields: Mapping[str, object], message: str, *args: object) -> None:
    """A retry decided by the retry policy (INFO, the line this package always logged)."""
    if (instruments := _metrics()) is not None:
        instruments.retries.add(1)
    logger.info(message, *args, extra={"event": RETRY, **fields})
    if _api():
        span = _otel_trace.get_current_span()
        if span.is_recording():
            span.add_event(RETRY, {k: _attribute(v) for k, v in fields.items()})


def paused(seconds: float, *, shared: bool, status_code: int | None) -> None:
    """The server asked for a pause (Retry-After): waited here, and with a rate limit, passed on
    to everyone sharing it."""
    trace = _current.get()
    if shared and trace is not None and trace.stats is not None:
        trace.stats.add(pauses=1)
    where = "everyone sharing the rate limit" if shared else "this call"
    event(
        PAUSE, "pausing %(where)s %(seconds).2fs: the server answered %(status_code)s with Retry-After",
        level=logging.INFO if shared else logging.DEBUG,
        seconds=seconds, shared=shared, status_code=status_code, where=where,
    )  # fmt: skip


def conflict_resolved(*, vendor: str, enrollment_id: str, ours: bool) -> None:
    """An enroll answered 'already enrolled' and the existing enrollment was returned."""
    trace = _current.get()
    if trace is not None and trace.stats is not None:
        trace.stats.add(conflicts_resolved=1)
    reason = "an earlier attempt of this call made it" if ours else "on_conflict='return_existing'"
    event(
        CONFLICT_RESOLVED, "already enrolled: returning the existing enrollment %(enrollment_id)s (%(reason)s)",
        vendor=vendor, enrollment_id=enrollment_id, ours=ours, reason=reason,
    )  # fmt: skip


def _log_from_environment() -> None:
    """`SEQUENCE_CLIENTS_LOG=debug|info`: a stderr handler on the package logger, once."""
    wanted = os.environ.get("SEQUENCE_CLIENTS_LOG", "").strip().lower()
    level = {"debug": logging.DEBUG, "info": logging.INFO}.get(wanted)
    if level is None or any(getattr(h, "_sequence_clients", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler._sequence_clients = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)


_log_from_environment()
