"""The span writer on streams made by hand: host tool calls (events of another part, read by
name), a halt that leaves calls in flight, the settings that turn tracing on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.config import load_settings  # noqa: E402
from rlm_tui.telemetry.spans import SpanWriter, provider_name  # noqa: E402

S = "sess"


def writer(content: bool = False) -> tuple[SpanWriter, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return SpanWriter(provider.get_tracer("test"), content=content), exporter


def opening(ts: float = 100.0) -> list[ev.EventBase]:
    return [
        ev.SessionStarted(session_id=S, node_id=S, ts=ts, query="q", root_model="openai/r",
                          sub_model="openai/s", max_iterations=5),
        ev.IterationStarted(session_id=S, node_id=f"{S}.i1", parent_id=S, ts=ts + 1,
                            iteration=1, max_iterations=5),
        ev.RootDone(session_id=S, node_id=f"{S}.i1", parent_id=S, ts=ts + 2, text="code",
                    model="openai/r", usage=ev.Usage.of_call(10, 5, None), latency_s=1.0),
        ev.CellStarted(session_id=S, node_id=f"{S}.i1.c1", parent_id=f"{S}.i1", ts=ts + 3,
                       index=1, code="search('x')"),
    ]


def tool_started(ts: float) -> SimpleNamespace:
    return SimpleNamespace(type="tool_started", session_id=S, node_id=f"{S}.i1.c1.tool1",
                           parent_id=f"{S}.i1.c1", ts=ts, name="search",
                           arguments='{"args": ["x"], "kwargs": {}}', arguments_chars=29)


def tool_finished(ts: float, error: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(type="tool_finished", session_id=S, node_id=f"{S}.i1.c1.tool1",
                           parent_id=f"{S}.i1.c1", ts=ts, name="search",
                           result='"a found thing"', result_chars=15, seconds=1.5,
                           error=error, recorded=False)


def by_name(exporter: InMemorySpanExporter) -> dict:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_a_tool_call_is_an_execute_tool_span_under_its_cell():
    spans, exporter = writer()
    for event in [*opening(), tool_started(104.0), tool_finished(105.5),
                  ev.CellFinished(session_id=S, node_id=f"{S}.i1.c1", parent_id=f"{S}.i1",
                                  ts=106.0, seconds=3.0)]:
        spans(event)
    spans.close()
    found = by_name(exporter)
    tool, cell = found["execute_tool search"], found["cell 1"]
    assert tool.parent.span_id == cell.context.span_id
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "search"
    assert (tool.start_time, tool.end_time) == (104 * 10**9, int(105.5 * 10**9))
    assert "gen_ai.tool.call.arguments" not in tool.attributes  # content: not asked
    assert "gen_ai.tool.call.result" not in tool.attributes


def test_a_tool_call_with_content_carries_its_arguments_and_result():
    spans, exporter = writer(content=True)
    for event in [*opening(), tool_started(104.0), tool_finished(105.0, error="boom")]:
        spans(event)
    spans.close()
    tool = by_name(exporter)["execute_tool search"]
    assert tool.attributes["gen_ai.tool.call.arguments"] == '{"args": ["x"], "kwargs": {}}'
    assert tool.attributes["gen_ai.tool.call.result"] == '"a found thing"'
    assert tool.status.status_code.name == "ERROR"


def test_a_halt_ends_what_is_in_flight_as_stopped_at_the_session_end():
    spans, exporter = writer()
    for event in [*opening(),
                  ev.SubcallStarted(session_id=S, node_id=f"{S}.i1.c1.q1",
                                    parent_id=f"{S}.i1.c1", ts=104.0, kind="llm",
                                    model="openai/s", prompt="p", prompt_chars=1, depth=1),
                  ev.SessionFinished(session_id=S, node_id=S, ts=110.0, status="halted",
                                     reason="halted by the person")]:
        spans(event)
    assert {s.name for s in exporter.get_finished_spans()} == {
        "chat openai/r", "chat openai/s", "cell 1", "iteration 1", "turn 1"}
    spans.close()  # the root session waited for a follow-up: closed now
    found = by_name(exporter)
    sub = found["chat openai/s"]
    assert sub.attributes["rlm_tui.status"] == "stopped" and sub.end_time == 110 * 10**9
    assert found["cell 1"].attributes["rlm_tui.status"] == "stopped"
    session = found["invoke_agent rlm-tui"]
    assert session.attributes["rlm_tui.status"] == "halted"
    assert session.attributes["rlm_tui.reason"] == "halted by the person"
    assert session.end_time == 110 * 10**9


def test_streamed_text_and_unknown_events_make_no_spans():
    spans, exporter = writer()
    spans(ev.RootDelta(session_id=S, node_id=f"{S}.i1", text="x", ts=1.0))
    spans(SimpleNamespace(type="something_new", session_id=S, node_id=S, ts=2.0))
    spans(ev.CellFinished(session_id=S, node_id="nowhere", ts=3.0))  # a node never started
    spans.close()
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(("model", "provider"), [
    ("openai/gpt-5-mini", "openai"), ("anthropic/claude", "anthropic"),
    ("gemini/gemini-2.5", "gcp.gemini"), ("bedrock/x", "aws.bedrock"), ("gpt-4o", "openai"),
    ("ollama/qwen", "ollama"), ("demo", "demo")])
def test_the_provider_is_named_as_the_genai_conventions_name_it(model, provider):
    assert provider_name(model) == provider


def test_rlm_tui_otel_in_the_environment_turns_tracing_on(tmp_path):
    settings = load_settings(config_path=None, environ={"RLM_TUI_OTEL": "1"})
    assert settings.otel is True and settings.otel_content is False
    content = load_settings({"otel_content": True}, environ={})
    assert content.otel_content is True
    assert load_settings(environ={}).otel is False


def test_the_endpoint_in_a_warning_loses_its_credentials(monkeypatch):
    from rlm_tui.telemetry.pipeline import _otlp_exporter

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                       "https://user:s3cret@127.0.0.1:9/v1/traces")
    exporter, shown = _otlp_exporter()
    assert shown == "https://127.0.0.1:9/v1/traces"
    exporter.shutdown()
