"""What `--otel` costs a run, and whether a real backend (Arize Phoenix) sees the session tree.

1. Cost per event, in-process: a real session's events (two questions, sub-calls, a child
   session) fed through an EventBus many times over, with the session tree's fold alone (what
   every session has) and with the OpenTelemetry subscriber too (the SDK's spans, a
   BatchSpanProcessor whose exporter drops them: the cost on the run's own thread). Goal: a
   few microseconds per event, nothing a run notices.
2. Phoenix: started on 127.0.0.1 in a temp working dir (its own telemetry off), a real
   `rlm-tui run --otel` (against the local OpenAI-compatible test server) exporting to its
   OTLP/HTTP endpoint, the spans read back through Phoenix's REST API (GET
   /v1/projects/{project}/spans), and their tree compared with the session tree folded from
   the run's transcript. Phoenix is heavy (~1 GB, ~60 s to start here): install it in a venv
   of its own and give its `phoenix` with --phoenix (default: `phoenix` on PATH, else
   $PHOENIX_VENV/bin/phoenix); without it, part 2 is skipped. Not a CI test.

    .venv/bin/python bench/bench_otel.py [--phoenix /work/phoenix-venv/bin/phoenix] [--rounds 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rlm_tui import events as ev  # noqa: E402
from rlm_tui.transcript import SessionModel, read_transcript  # noqa: E402
from tests.integration.openai_server import OpenAIServer, Reply  # noqa: E402

QUESTIONS = ["Which handler answers ok?", "And what does it return?"]


def repl(code: str) -> str:
    return f"Let me look.\n```repl\n{code}\n```"


def responder(body: dict) -> Reply:
    """Turn 1: two llm_query sub-calls, then an rlm_query child session, then FINAL; turn 2:
    one more sub-call and FINAL. The child answers with a sub-call of its own."""
    messages = body["messages"]
    if messages[0]["role"] != "system":
        return Reply(text="a handler that returns ok", chunks=3)
    system = messages[0]["content"]
    replies = sum(1 for m in messages if m["role"] == "assistant")
    if "child RLM" not in system:  # the child session
        return Reply(text=repl("FINAL(llm_query('leaf: ' + context[:20]))"), chunks=3)
    script = [
        repl("a, b = llm_query_batched(['first: ' + context['src/app.py'], "
             "'second: ' + context['README.md']])\nprint(a, b)"),
        repl("r = rlm_query('look deeper', context=context['src/app.py'])\nprint(r)"),
        repl("FINAL('handler in src/app.py')"),
        repl("x = llm_query('what does it return: ' + context['src/app.py'])\nprint(x)"),
        repl("FINAL('ok')"),
    ]
    step = min(replies, len(script) - 1)  # turn 2 sees turn 1's three replies
    return Reply(text=script[step], chunks=3)


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text("def handler():\n    return 'ok'\n")
    (repo / "README.md").write_text("# A small repo\n")
    return repo


def run_session(repo: Path, server: OpenAIServer, transcript: Path,
                env: dict[str, str], otel: bool = True) -> tuple[int, float, str]:
    """A real `rlm-tui run --otel` over `repo`; returns its exit code, seconds and stderr."""
    command = [sys.executable, "-m", "rlm_tui", "run", str(repo), *(["--otel"] * otel),
               "--model", "openai/root-model", "--sub-model", "openai/sub-model",
               "--api-base", server.base_url, "--max-depth", "2",
               "--transcript", str(transcript), "--json"]
    for question in QUESTIONS:
        command += ["--query", question]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, cwd=repo, timeout=300)
    return done.returncode, time.perf_counter() - started, done.stderr


def expected_tree(model: SessionModel) -> dict[str, str | None]:
    """The session tree as spans parent it (see rlm_tui/telemetry/spans.py)."""
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


# -- 1. the cost per event -------------------------------------------------------------


def cost_per_event(events: list[ev.EventBase], rounds: int) -> dict[str, float]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    from rlm_tui.telemetry.pipeline import SessionTracing

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    def feed(with_otel: bool, content: bool = False) -> float:
        provider = TracerProvider(shutdown_on_exit=False)
        provider.add_span_processor(BatchSpanProcessor(Dropped()))
        elapsed = 0.0
        for _ in range(rounds):
            bus = ev.EventBus()
            bus.subscribe(SessionModel(track_changes=False).apply)
            tracing = None
            if with_otel:
                tracing = SessionTracing.start(content=content, on_warning=print,
                                               tracer_provider=provider)
                bus.subscribe(tracing)
            started = time.perf_counter()
            for event in events:
                bus.emit(event)
            if tracing is not None:
                tracing.writer.close()  # the session's end: its last spans end
            elapsed += time.perf_counter() - started
        provider.shutdown()
        return elapsed / (rounds * len(events))

    figures: dict[str, list[float]] = {"fold": [], "otel": [], "content": []}
    for _ in range(3):
        figures["fold"].append(feed(False))
        figures["otel"].append(feed(True))
        figures["content"].append(feed(True, content=True))
    return {name: statistics.median(values) for name, values in figures.items()}


# -- 2. Phoenix ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_phoenix(given: str | None) -> str | None:
    if given:
        return given if Path(given).exists() else None
    on_path = shutil.which("phoenix")
    if on_path:
        return on_path
    venv = os.environ.get("PHOENIX_VENV")
    if venv and (Path(venv) / "bin" / "phoenix").exists():
        return str(Path(venv) / "bin" / "phoenix")
    return None


def start_phoenix(phoenix: str, workdir: Path) -> tuple[subprocess.Popen, str, float]:
    """Phoenix on 127.0.0.1 (HTTP and gRPC on free ports), its data in `workdir`, its own
    telemetry off; returns the process, its base URL and the seconds it took to answer."""
    port, grpc = free_port(), free_port()
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(workdir), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(port), "PHOENIX_GRPC_PORT": str(grpc),
           "PHOENIX_TELEMETRY_ENABLED": "false"}
    log = open(workdir / "phoenix.log", "w")
    process = subprocess.Popen([phoenix, "serve"], env=env, stdout=log, stderr=log,
                               cwd=workdir, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    while time.perf_counter() - started < 300:
        if process.poll() is not None:
            raise RuntimeError(f"phoenix serve exited ({process.returncode}): see "
                               f"{workdir / 'phoenix.log'}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return process, base, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(1)
    process.terminate()
    raise RuntimeError("phoenix did not answer /healthz within 300 s")


def phoenix_spans(base: str, project: str) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        url = f"{base}/v1/projects/{urllib.parse.quote(project)}/spans?" \
              f"{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # the project exists once its first span is in
                return []
            raise
        spans.extend(body.get("data", []))
        cursor = body.get("next_cursor")
        if not cursor:
            return spans


def attribute(span: dict[str, Any], key: str) -> Any:
    """An attribute as Phoenix returns it: flat ("a.b": v) or nested ({"a": {"b": v}})."""
    attributes = span.get("attributes") or {}
    if key in attributes:
        return attributes[key]
    value: Any = attributes
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def phoenix_tree(spans: list[dict[str, Any]]) -> dict[str, str | None]:
    by_span_id = {s["context"]["span_id"]: s for s in spans}
    tree: dict[str, str | None] = {}
    for span in spans:
        parent = by_span_id.get(span.get("parent_id") or "")
        tree[str(attribute(span, "rlm_tui.node_id"))] = (
            str(attribute(parent, "rlm_tui.node_id")) if parent is not None else None)
    return tree


def check_phoenix(phoenix: str, repo: Path, server: OpenAIServer, work: Path) -> None:
    workdir = work / "phoenix"
    workdir.mkdir()
    try:
        process, base, start_s = start_phoenix(phoenix, workdir)
    except RuntimeError as exc:
        print(f"phoenix: could not start: {exc}")
        return
    try:
        print(f"phoenix: up at {base} after {start_s:.1f} s")
        project = f"rlm-tui-bench-{os.getpid()}"
        transcript = work / "phoenix-run.jsonl"
        server.reset()
        server.responder = responder
        code, seconds, stderr = run_session(repo, server, transcript, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": base,
            "OTEL_RESOURCE_ATTRIBUTES": f"openinference.project.name={project}"})
        if code != 0:
            print(f"phoenix: the run failed ({code}): {stderr.strip()}")
            return
        model = SessionModel.from_events(read_transcript(transcript).events)
        expected = expected_tree(model)
        waited = time.perf_counter()
        spans: list[dict[str, Any]] = []
        while time.perf_counter() - waited < 30:
            spans = phoenix_spans(base, project)
            if len(spans) >= len(expected):
                break
            time.sleep(0.5)
        found = phoenix_tree(spans)
        traces = {s["context"]["trace_id"] for s in spans}
        print(f"phoenix: run --otel: {seconds:.2f} s, exit {code}, "
              f"stderr {stderr.strip() or '(empty)'}")
        print(f"phoenix: spans found {len(spans)} / expected {len(expected)} "
              f"(in {len(traces)} trace{'s' if len(traces) != 1 else ''}), read back after "
              f"{time.perf_counter() - waited:.1f} s")
        kinds: dict[str, int] = {}
        for span in spans:
            kinds[str(attribute(span, "rlm_tui.node"))] = \
                kinds.get(str(attribute(span, "rlm_tui.node")), 0) + 1
        print("phoenix: spans by node: " + ", ".join(f"{k} {v}" for k, v in
                                                      sorted(kinds.items())))
        match = found == expected
        print(f"phoenix: tree matches the session tree: {'yes' if match else 'no'}")
        if not match:
            missing = sorted(set(expected) - set(found))
            wrong = sorted(k for k in expected if k in found and found[k] != expected[k])
            print(f"phoenix:   missing {missing[:10]}, wrongly parented {wrong[:10]}")
        llm = [s for s in spans if attribute(s, "gen_ai.operation.name") == "chat"]
        if llm:
            sample = llm[0]
            print("phoenix: a chat span as Phoenix has it: kind "
                  f"{sample.get('span_kind')}, model {attribute(sample, 'gen_ai.request.model')}"
                  f", tokens {attribute(sample, 'gen_ai.usage.input_tokens')} in / "
                  f"{attribute(sample, 'gen_ai.usage.output_tokens')} out")
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phoenix", metavar="EXE", help="Phoenix's `phoenix` command")
    parser.add_argument("--rounds", type=int, default=200,
                        help="times the session's events are fed through, per measure")
    args = parser.parse_args()
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        print("otel: the extra is not installed (pip install -e '.[otel]'): nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="rlm-bench-otel-") as tmp, OpenAIServer() as server:
        work = Path(tmp)
        repo = make_repo(work)
        # A real run's events (traced to a closed port: the down-backend path, timed too).
        server.responder = responder
        transcript = work / "run.jsonl"
        code, seconds, stderr = run_session(repo, server, transcript, {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
        if code != 0 or not transcript.exists():
            print(f"session: the run failed ({code}): {stderr.strip()}")
            return
        events = read_transcript(transcript).events
        model = SessionModel.from_events(events)
        print(f"session: exit {code}, {len(events)} events, "
              f"{len(expected_tree(model))} spans expected, {model.totals.tally.sub_calls} "
              f"sub-calls, {len(model.sessions)} sessions")
        _, plain_s, _ = run_session(repo, server, work / "plain.jsonl", {}, otel=False)
        print(f"run without --otel: {plain_s:.2f} s; down backend: run --otel to a closed "
              f"port: {seconds:.2f} s, stderr: {stderr.strip()}")
        costs = cost_per_event(events, args.rounds)
        added = costs["otel"] - costs["fold"]
        added_content = costs["content"] - costs["fold"]
        print(f"cost per event: fold alone {costs['fold'] * 1e6:.1f} us, with --otel "
              f"{costs['otel'] * 1e6:.1f} us (+{added * 1e6:.1f} us), with --otel-content "
              f"{costs['content'] * 1e6:.1f} us (+{added_content * 1e6:.1f} us); "
              f"{len(events)} events x {args.rounds} rounds, median of 3")
        print(f"cost per session of these {len(events)} events: "
              f"+{added * len(events) * 1e3:.2f} ms with --otel")
        phoenix = find_phoenix(args.phoenix)
        if phoenix is None:
            print("phoenix: not found (install arize-phoenix in a venv of its own, then "
                  "--phoenix VENV/bin/phoenix): skipped")
            return
        check_phoenix(phoenix, repo, server, work)


if __name__ == "__main__":
    main()
