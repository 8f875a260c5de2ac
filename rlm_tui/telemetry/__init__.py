"""OpenTelemetry traces of a session: one more subscriber of the event stream.

`--otel` (RLM_TUI_OTEL=1, `Session(otel=True)`) gives every session a span per session, turn,
iteration, root model call, cell, sub-call and tool call, parented as the session tree is,
timed by the events' own timestamps, with the GenAI semantic conventions' attributes; they go
over OTLP/HTTP where the standard OTEL_EXPORTER_OTLP_* variables say (the SDK reads them).
Prompts, code, outputs and answers stay out unless `--otel-content`.

The SDK is the optional extra `rlm-tui[otel]`, imported only when a session asks for traces
(~0.2 s and ~270 modules: the SDK, protobuf, requests; a Session imports them in a thread
while its context loads); this module imports nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rlm_tui.errors import UsageError

if TYPE_CHECKING:
    from rlm_tui.telemetry.pipeline import SessionTracing

MISSING_EXTRA = ("--otel needs the OpenTelemetry SDK, an optional extra: "
                 "pip install 'rlm-tui[otel]'")


def check_available() -> None:
    """UsageError (one line) when the extra is not installed: for a command to say so before
    it starts anything (the app checks at launch)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("opentelemetry.sdk.trace") is not None
        found = found and importlib.util.find_spec(
            "opentelemetry.exporter.otlp.proto.http") is not None
    except (ImportError, ValueError):  # a parent package missing, or set to None
        found = False
    if not found:
        raise UsageError(MISSING_EXTRA)


def start_tracing(*, content: bool, on_warning: Callable[[str], None],
                  tracer_provider: Any = None) -> SessionTracing:
    """A session's tracing: subscribe the result to its event bus, `close()` it at its end
    (which flushes, with a bounded wait). `tracer_provider`: a program's own (an SDK
    TracerProvider, flushed but never shut down here); else one of the session's own,
    exporting over OTLP/HTTP. UsageError (one line) when the extra is not installed."""
    try:
        from rlm_tui.telemetry.pipeline import SessionTracing
    except ImportError as exc:
        if (exc.name or "").startswith("opentelemetry") or "opentelemetry" in str(exc):
            raise UsageError(MISSING_EXTRA) from None
        raise
    return SessionTracing.start(content=content, on_warning=on_warning,
                                tracer_provider=tracer_provider)


__all__ = ["MISSING_EXTRA", "check_available", "start_tracing"]
