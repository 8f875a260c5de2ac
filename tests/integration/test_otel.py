"""OpenTelemetry traces (--otel) of real sessions against the local test server: the spans,
caught by the SDK's in-memory exporter, are the session tree; GenAI attributes on the model
calls; no content unless asked; a trace backend that is down costs one warning."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

import rlm_tui  # noqa: E402
from tests.integration.openai_server import Reply  # noqa: E402
from tests.integration.test_engine import Scripted, repl  # noqa: E402

QUESTION = "Which handler answers ok?"
FOLLOW_UP = "And what does it return?"
CODE = "notes = llm_query('summarise this: ' + context['src/app.py'])\nprint(notes)"
SUB_PROMPT = "summarise this: def handler()"
ANSWER = "handler in src/app.py"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler():\n    return 'ok'\n")
    return root


@pytest.fixture
def spans_out() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def settings(server, **more) -> dict:
    return {"model": "openai/root-model", "sub_model": "openai/sub-model",
            "api_base": server.base_url, "max_retries": 0, **more}


def two_turns() -> Scripted:
    return Scripted([repl(CODE), repl(f"FINAL({ANSWER!r})"), repl("FINAL('ok')")],
                    sub=lambda prompt: "a handler that returns ok")


async def traced_session(server, repo, provider, **more):
    async with rlm_tui.Session(repo, transcript=False, tracer_provider=provider,
                               **settings(server, **more)) as session:
        await session.ask(QUESTION)
        await session.ask(FOLLOW_UP)
    return session


def span_tree(spans) -> dict[str, str | None]:
    """node_id -> its parent span's node_id, as the spans link them."""
    by_id = {s.context.span_id: s for s in spans}
    tree = {}
    for span in spans:
        parent = by_id.get(span.parent.span_id) if span.parent is not None else None
        tree[span.attributes["rlm_tui.node_id"]] = (
            parent.attributes["rlm_tui.node_id"] if parent is not None else None)
    return tree


def expected_tree(model) -> dict[str, str | None]:
    """The session tree (the fold every view reads) as spans parent it: a session's turns
    under it, its iterations under their turn, the root call under its iteration."""
    from rlm_tui.transcript import CellNode, IterationNode, SessionNode, SubCallNode

    tree: dict[str, str | None] = {}
    for node in model.nodes.values():
        if isinstance(node, SessionNode):
            tree[node.node_id] = node.parent.node_id if node.parent is not None else None
            for turn in node.turns:
                tree[f"{node.node_id}.t{turn.turn}"] = node.node_id
        elif isinstance(node, IterationNode):
            tree[node.node_id] = f"{node.parent.node_id}.t{node.turn}"
            tree[f"{node.node_id}.root"] = node.node_id
        elif isinstance(node, (CellNode, SubCallNode)):
            tree[node.node_id] = node.parent.node_id
    return tree


def all_text(spans) -> str:
    """Every attribute and span event value, as one text to search."""
    parts = []
    for span in spans:
        parts.extend(str(v) for v in span.attributes.values())
        for event in span.events:
            parts.extend(str(v) for v in event.attributes.values())
        parts.append(span.status.description or "")
    return "\n".join(parts)


async def test_the_spans_are_the_session_tree(openai_server, repo, spans_out):
    provider, exporter = spans_out
    openai_server.responder = two_turns()
    session = await traced_session(openai_server, repo, provider)
    spans = exporter.get_finished_spans()
    assert span_tree(spans) == expected_tree(session.tree)
    assert len({s.context.trace_id for s in spans}) == 1  # one trace per session
    names = sorted(s.name for s in spans)
    assert names == sorted(["invoke_agent rlm-tui", "turn 1", "turn 2", "iteration 1",
                            "iteration 2", "iteration 1", "chat openai/root-model",
                            "chat openai/root-model", "chat openai/root-model", "cell 1",
                            "cell 1", "cell 1", "chat openai/sub-model"])
    # Each span's time is its events' own: children inside their parents, real durations.
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        assert span.end_time >= span.start_time
        if span.parent is not None:
            parent = by_id[span.parent.span_id]
            assert parent.start_time <= span.start_time and span.end_time <= parent.end_time
    root = next(s for s in spans if s.parent is None)
    assert root.attributes["rlm_tui.status"] == "answered"
    assert root.status.status_code.name == "OK"
    totals = session.tree.totals.to_dict()
    assert root.attributes["gen_ai.usage.input_tokens"] == totals["tokens"]["prompt"]
    assert root.attributes["gen_ai.usage.output_tokens"] == totals["tokens"]["completion"]


async def test_model_call_spans_carry_the_genai_attributes(openai_server, repo, spans_out):
    provider, exporter = spans_out
    openai_server.responder = two_turns()
    session = await traced_session(openai_server, repo, provider)
    spans = exporter.get_finished_spans()
    sub = next(s for s in spans if s.name == "chat openai/sub-model")
    node = session.tree.nodes[sub.attributes["rlm_tui.node_id"]]
    assert sub.kind.name == "CLIENT"
    assert sub.attributes["gen_ai.operation.name"] == "chat"
    assert sub.attributes["gen_ai.provider.name"] == "openai"
    assert sub.attributes["gen_ai.request.model"] == "openai/sub-model"
    assert sub.attributes["gen_ai.response.model"] == node.model
    assert sub.attributes["gen_ai.usage.input_tokens"] == node.usage.prompt_tokens > 0
    assert sub.attributes["gen_ai.usage.output_tokens"] == node.usage.completion_tokens > 0
    assert sub.attributes["rlm_tui.cost_known"] is False  # the test models have no price
    roots = [s for s in spans if s.name == "chat openai/root-model"]
    for span in roots:
        iteration = session.tree.nodes[span.attributes["rlm_tui.node_id"].removesuffix(".root")]
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.request.model"] == "openai/root-model"
        assert span.attributes["gen_ai.usage.input_tokens"] == iteration.usage.prompt_tokens
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    agent = next(s for s in spans if s.parent is None)
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "rlm-tui"


async def test_no_prompt_code_output_or_answer_without_otel_content(openai_server, repo,
                                                                    spans_out):
    provider, exporter = spans_out
    openai_server.responder = two_turns()
    await traced_session(openai_server, repo, provider)
    text = all_text(exporter.get_finished_spans())
    for secret in (QUESTION, FOLLOW_UP, "llm_query(", SUB_PROMPT, "a handler that returns",
                   ANSWER, "return 'ok'"):
        assert secret not in text


async def test_otel_content_puts_prompts_code_outputs_and_answers_in(openai_server, repo,
                                                                     spans_out):
    provider, exporter = spans_out
    openai_server.responder = two_turns()
    await traced_session(openai_server, repo, provider, otel_content=True)
    spans = exporter.get_finished_spans()
    text = all_text(spans)
    for content in (QUESTION, FOLLOW_UP, "llm_query(", SUB_PROMPT, "a handler that returns",
                    ANSWER):
        assert content in text
    sub = next(s for s in spans if s.name == "chat openai/sub-model")
    messages = json.loads(sub.attributes["gen_ai.input.messages"])
    assert messages[0]["role"] == "user"
    assert messages[0]["parts"][0]["content"].startswith(SUB_PROMPT)


async def test_a_child_session_nests_under_its_rlm_query(openai_server, repo, spans_out):
    provider, exporter = spans_out

    def responder(body: dict) -> Reply:
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" \
            else None
        if system is None:
            return Reply(text="plain sub-call")
        answered = sum(1 for m in body["messages"] if m["role"] == "assistant")
        if answered == 0 and "child RLM" in system:  # the root: only it may start one
            return Reply(text=repl("r = rlm_query('deeper', context='inner text')"))
        if answered == 0:  # the child
            return Reply(text=repl("FINAL(llm_query('leaf'))"))
        return Reply(text=repl("FINAL('got ' + r)"))

    openai_server.responder = responder
    async with rlm_tui.Session(repo, transcript=False, tracer_provider=provider,
                               **settings(openai_server, max_depth=2)) as session:
        result = await session.ask(QUESTION)
    assert result.answer == "got plain sub-call"
    spans = exporter.get_finished_spans()
    assert span_tree(spans) == expected_tree(session.tree)
    rlm = next(s for s in spans if s.name.startswith("rlm_query"))
    child = next(s for s in spans if s.name == "invoke_agent rlm-tui" and s.parent is not None)
    assert child.parent.span_id == rlm.context.span_id
    assert child.attributes["rlm_tui.depth"] == 1
    assert child.attributes["rlm_tui.status"] == "answered"
    assert rlm.attributes["gen_ai.usage.input_tokens"] > 0  # the child's roll-up


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_trace_backend_that_is_down_costs_one_warning(openai_server, repo,
                                                              monkeypatch, capfd):
    endpoint = f"http://127.0.0.1:{closed_port()}/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)
    openai_server.responder = two_turns()
    async with rlm_tui.Session(repo, transcript=False,
                               **settings(openai_server, otel=True)) as session:
        first = await session.ask(QUESTION)
        again = await session.ask(FOLLOW_UP)
    assert first.answer == ANSWER and again.answer == "ok"
    warnings = [w for w in session.warnings if "OpenTelemetry" in w]
    assert len(warnings) == 1 and endpoint in warnings[0], session.warnings
    assert "\n" not in warnings[0]
    out, err = capfd.readouterr()
    assert out == "" and "Traceback" not in err and err == ""


def test_rlm_tui_run_otel_without_the_extra_is_one_line(openai_server, repo, monkeypatch,
                                                        capsys, tmp_path):
    import sys

    from rlm_tui.cli import main

    for name in [m for m in sys.modules if m.startswith(("opentelemetry",
                                                         "rlm_tui.telemetry."))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    code = main(["run", str(repo), "--query", QUESTION, "--otel",
                 "--transcript", str(tmp_path / "t.jsonl"),
                 "--model", "openai/root-model", "--api-base", openai_server.base_url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == ("rlm-tui: --otel needs the OpenTelemetry SDK, an optional extra: "
                           "pip install 'rlm-tui[otel]'")
    assert openai_server.requests == []  # nothing ran
    assert not (tmp_path / "t.jsonl").exists()


def test_rlm_tui_run_with_a_backend_down_answers_and_warns_in_one_line(openai_server, repo,
                                                                       monkeypatch, capsys,
                                                                       tmp_path):
    from rlm_tui.cli import main

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    openai_server.responder = Scripted([repl(f"FINAL({ANSWER!r})")])
    code = main(["run", str(repo), "--query", QUESTION, "--otel",
                 "--transcript", str(tmp_path / "t.jsonl"),
                 "--model", "openai/root-model", "--api-base", openai_server.base_url])
    out, err = capsys.readouterr()
    assert code == 0 and out == ANSWER + "\n"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlm-tui: warning: OpenTelemetry: cannot "
                                                   "export spans to http://127.0.0.1:")
    assert lines[0].endswith("/v1/traces: connection refused; the session goes on without "
                             "traces")


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver on 127.0.0.1: decodes each POST /v1/traces."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.spans: list = []
        self.resources: list = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    receiver.resources.append(resource_spans.resource)
                    for scope in resource_spans.scope_spans:
                        receiver.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def tree(self) -> dict[str, str | None]:
        def node_id(span) -> str:
            return next(a.value.string_value for a in span.attributes
                        if a.key == "rlm_tui.node_id")

        by_id = {span.span_id: span for span in self.spans}
        return {node_id(span): node_id(by_id[span.parent_span_id])
                if span.parent_span_id in by_id else None for span in self.spans}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def otlp(monkeypatch):
    receiver = OtlpReceiver()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    yield receiver
    receiver.close()


async def test_spans_reach_an_otlp_http_backend_as_the_session_tree(openai_server, repo,
                                                                    otlp):
    openai_server.responder = two_turns()
    async with rlm_tui.Session(repo, transcript=False,
                               **settings(openai_server, otel=True)) as session:
        await session.ask(QUESTION)
        await session.ask(FOLLOW_UP)
    assert otlp.tree() == expected_tree(session.tree)  # flushed by the session's end
    service = {a.key: a.value.string_value for a in otlp.resources[0].attributes}
    assert service["service.name"] == "rlm-tui"
    assert session.warnings == []


async def test_the_apps_runs_are_traced_too(openai_server, repo, otlp):
    from rlm_tui.config import Settings
    from rlm_tui.engine.workspace import Workspace
    from rlm_tui.tui.live_run import LiveRun

    openai_server.responder = two_turns()
    config = Settings(**settings(openai_server, otel=True))
    workspace = Workspace.open(str(repo), config)
    seen: list = []
    live = LiveRun(workspace, config, seen.append, transcript_path=repo.parent / "t.jsonl")
    try:
        await live.execute(QUESTION)
        await live.ask(FOLLOW_UP)
    finally:
        await live.close()
        workspace.close()
    from rlm_tui.transcript import SessionModel

    assert otlp.tree() == expected_tree(SessionModel.from_events(seen))


async def test_a_priced_call_carries_its_cost_and_an_unpriced_one_says_unknown(openai_server,
                                                                               repo,
                                                                               spans_out):
    provider, exporter = spans_out
    openai_server.responder = two_turns()
    prices = {"openai/sub-model": {"input": 2.0, "output": 8.0}}
    session = await traced_session(openai_server, repo, provider, prices=prices)
    spans = exporter.get_finished_spans()
    sub = next(s for s in spans if s.name == "chat openai/sub-model")
    node = session.tree.nodes[sub.attributes["rlm_tui.node_id"]]
    assert node.usage.cost_usd and sub.attributes["rlm_tui.cost_usd"] == node.usage.cost_usd
    assert sub.attributes["rlm_tui.cost_known"] is True
    root_call = next(s for s in spans if s.name == "chat openai/root-model")
    assert root_call.attributes["rlm_tui.cost_known"] is False
    assert "rlm_tui.cost_usd" not in root_call.attributes  # unknown, never a made-up 0
