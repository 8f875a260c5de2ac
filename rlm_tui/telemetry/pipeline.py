"""Where a session's spans go: a TracerProvider of the session's own, batching to OTLP/HTTP in
a background thread, so that a backend that is slow or down costs the run one warning and
nothing else (a short export timeout, no retry after a failure, a bounded flush at the end,
the SDK's own log lines kept off the terminal)."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

from rlm_tui import __version__
from rlm_tui.config import public_url
from rlm_tui.events import EventBase
from rlm_tui.telemetry.spans import SpanWriter

# The SDK waits 10 s for a backend by default, retrying with backoff: past 3 s a trace
# backend is not worth holding a session's end for. OTEL_EXPORTER_OTLP_*TIMEOUT still win.
EXPORT_TIMEOUT_S = 3.0
# At a session's end: how long the spans in hand may take to leave.
FLUSH_WAIT_S = 3.0
_TIMEOUT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")


class _SdkLogCapture(logging.Handler):
    """The SDK's log records, per thread: an export's trouble is logged in the exporting
    thread while export() runs, so the guard there reads its reason (and stops the SDK's
    retries, see GuardedExporter). Installed on the "opentelemetry" logger, which then stops
    propagating: no SDK line or traceback reaches a terminal."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._first: dict[int, str] = {}
        self._watchers: dict[int, Callable[[], None]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        thread = threading.get_ident()
        try:
            self._first.setdefault(thread, record.getMessage())
        except Exception:  # a record whose arguments do not format: keep none
            pass
        watcher = self._watchers.pop(thread, None)
        if watcher is not None:
            watcher()

    def watch(self, on_trouble: Callable[[], None]) -> None:
        """Call `on_trouble` at this thread's next warning (once)."""
        self._first.pop(threading.get_ident(), None)
        self._watchers[threading.get_ident()] = on_trouble

    def take(self) -> str | None:
        self._watchers.pop(threading.get_ident(), None)
        return self._first.pop(threading.get_ident(), None)


_capture_lock = threading.Lock()
_capture: _SdkLogCapture | None = None


def _sdk_log_capture() -> _SdkLogCapture:
    global _capture
    with _capture_lock:
        if _capture is None:
            _capture = _SdkLogCapture()
            sdk_logger = logging.getLogger("opentelemetry")
            sdk_logger.addHandler(_capture)
            sdk_logger.propagate = False
        return _capture


def _reason(message: str) -> str:
    """The SDK's log line, short: the OS's words for a connection error ("Connection
    refused"), else the line itself, on one line."""
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", message)
    if found:
        return found.group(1).strip().lower()
    line = " ".join(message.split())
    return line if len(line) <= 200 else line[:197] + "..."


class GuardedExporter(SpanExporter):
    """An exporter that fails once: its first trouble is one warning, and every later batch
    is dropped at once (a backend that is down is not asked again by this session). The
    SDK's retries with backoff (1 s, 2 s, ... within its timeout) are cut at the first
    transient error: a backend that refused a connection costs the session no waiting."""

    def __init__(self, inner: SpanExporter, *, endpoint: str,
                 on_warning: Callable[[str], None]) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self._on_warning = on_warning
        self._capture = _sdk_log_capture()
        self.failed = False
        self.closing = False
        self.exported = 0
        self.dropped = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.failed or self.closing:
            self.dropped += len(spans)
            return SpanExportResult.FAILURE
        self._capture.watch(self._inner.shutdown)  # ends the retry's wait at once
        try:
            result = self._inner.export(spans)
        except Exception as exc:  # an exporter's bug must not reach the run either
            result, reason = SpanExportResult.FAILURE, f"{type(exc).__name__}: {exc}"
        else:
            reason = self._capture.take()
        if result is SpanExportResult.SUCCESS:
            self.exported += len(spans)
            return result
        self.failed = True
        self.dropped += len(spans)
        why = f": {_reason(reason)}" if reason else ""
        self._on_warning(f"OpenTelemetry: cannot export spans to {self._endpoint}{why}; "
                         "the session goes on without traces")
        return result

    def shutdown(self) -> None:
        if not self.closing:
            self.closing = True
            self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def _otlp_exporter() -> tuple[SpanExporter, str]:
    """The OTLP/HTTP exporter as the OTEL_EXPORTER_OTLP_* variables configure it, and the
    endpoint it posts to (for the warning)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    timeout = None if any(os.environ.get(v) for v in _TIMEOUT_VARIABLES) else EXPORT_TIMEOUT_S
    exporter = OTLPSpanExporter(timeout=timeout)
    endpoint = str(getattr(exporter, "_endpoint", "") or "the OTLP endpoint")
    return exporter, public_url(endpoint)  # a user:password in it never reaches a warning


class SessionTracing:
    """A session's spans: the writer (the bus's subscriber) and where its spans go."""

    def __init__(self, writer: SpanWriter, provider: TracerProvider | Any, *, owned: bool,
                 exporter: GuardedExporter | None, on_warning: Callable[[str], None]) -> None:
        self.writer = writer
        self.provider = provider
        self.exporter = exporter
        self._owned = owned
        self._on_warning = on_warning
        self._closed = False

    @classmethod
    def start(cls, *, content: bool, on_warning: Callable[[str], None],
              tracer_provider: Any = None) -> SessionTracing:
        if tracer_provider is not None:
            tracer = tracer_provider.get_tracer("rlm_tui", __version__)
            return cls(SpanWriter(tracer, content=content), tracer_provider, owned=False,
                       exporter=None, on_warning=on_warning)
        inner, endpoint = _otlp_exporter()
        exporter = GuardedExporter(inner, endpoint=endpoint, on_warning=on_warning)
        # service.name "rlm-tui" unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say.
        resource = Resource.create({"service.name": "rlm-tui", "service.version": __version__})
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("rlm_tui", __version__)
        return cls(SpanWriter(tracer, content=content), provider, owned=True,
                   exporter=exporter, on_warning=on_warning)

    def __call__(self, event: EventBase) -> None:
        self.writer(event)

    def close(self, wait_s: float = FLUSH_WAIT_S) -> None:
        """End the spans still open (at the last event's time), then let the spans in hand
        leave, waiting at most `wait_s`. Idempotent; never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            self.writer.close()
            flushed = self.provider.force_flush(int(wait_s * 1000))
            if self.exporter is not None:
                if not flushed and not self.exporter.failed:
                    self._on_warning(f"OpenTelemetry: spans still unsent after {wait_s:g} s "
                                     "at the session's end were dropped")
                self.exporter.shutdown()  # ends a retry's wait: the shutdown below is quick
            if self._owned:
                self.provider.shutdown()
        except Exception as exc:  # tracing never fails a session
            self._on_warning(f"OpenTelemetry: closing the traces failed: {exc}")
