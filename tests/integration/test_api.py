"""The public Python API (rlm_tui.ask, rlm_tui.Session) against the local test server: real
workers, real files, the same client code as a real provider's calls."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

import rlm_tui
from rlm_tui import events as ev
from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted, repl


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def handler():\n    return 'ok'\n")
    (root / "README.md").write_text("# A small repo\n")
    return root


def settings(server) -> dict:
    return {"model": "openai/root-model", "sub_model": "openai/sub-model",
            "api_base": server.base_url, "max_retries": 0}


def test_ask_answers_from_a_script_and_writes_its_transcript(openai_server, repo, tmp_path,
                                                             capfd):
    openai_server.responder = Scripted([
        repl("print(sorted(context.files))"),
        repl("FINAL('two files: ' + ', '.join(sorted(context.files)))"),
    ])
    transcript = tmp_path / "t.jsonl"
    result = rlm_tui.ask("Which files are there?", context=repo, transcript=transcript,
                         **settings(openai_server))
    assert result.status == "answered" and result.answered
    assert result.answer == "two files: README.md, src/app.py"
    assert result.value == result.answer  # no schema: the answer string
    assert result.iterations == 2
    assert result.tokens.total > 0 and result.tokens.total == (result.tokens.prompt
                                                                + result.tokens.completion)
    assert result.transcript == transcript
    lines = transcript.read_text().splitlines()
    assert json.loads(lines[0])["query"] == "Which files are there?"
    assert any(json.loads(line).get("type") == "final_answer" for line in lines[1:])
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # nothing printed unless asked


async def test_a_session_answers_follow_ups_on_the_same_repl(openai_server, repo):
    openai_server.responder = Scripted([
        repl("found = [p for p in context.files if p.endswith('.py')]\nFINAL(str(found))"),
        repl("FINAL('still there: ' + found[0])"),
    ])
    async with rlm_tui.Session(repo, transcript=False, **settings(openai_server)) as session:
        first = await session.ask("Which Python files?")
        again = await session.ask("And the first of them?")
        assert session.state == "done"
    assert first.answer == "['src/app.py']" and first.turn == 1
    assert again.answer == "still there: src/app.py" and again.turn == 2
    assert again.transcript is None


async def test_events_stream_the_run_and_end_with_the_session(openai_server, repo):
    openai_server.responder = Scripted([repl("FINAL('done')")])
    session = rlm_tui.Session(repo, transcript=False, **settings(openai_server))
    stream = session.events()
    async with session:
        await session.ask("Anything?")
    seen = [event async for event in stream]
    names = [e.type for e in seen]
    assert names[0] == "session_started" and "final_answer" in names
    assert all(isinstance(e, ev.EventBase) for e in seen)


async def test_pause_step_and_halt_steer_a_session_from_code(openai_server, repo):
    openai_server.responder = Scripted([repl(f"x = {i}\nprint(x)") for i in range(20)])
    async with rlm_tui.Session(repo, transcript=False, **settings(openai_server)) as session:
        stream = session.events()
        asked = asyncio.create_task(session.ask("Count forever"))
        iterations = 0
        async for event in stream:
            if isinstance(event, ev.IterationStarted):
                iterations += 1
                if iterations == 1:
                    session.pause()
                    session.add_note("slow down")
                    await asyncio.sleep(0.3)
                    assert session.state == "paused"
                    session.step()
                elif iterations == 2:
                    session.halt("enough from code")
                    break
        result = await asyncio.wait_for(asked, 30)
    assert result.status == "halted" and result.reason == "enough from code"
    assert result.answer is None and result.value is None


def test_a_failing_model_raises_model_failed_with_what_was_recorded(openai_server, repo,
                                                                     tmp_path):
    openai_server.script(Reply.unauthorized())
    with pytest.raises(rlm_tui.ModelError) as caught:
        rlm_tui.ask("Anything?", context=repo, transcript=tmp_path / "t.jsonl",
                    **settings(openai_server))
    assert isinstance(caught.value, rlm_tui.ModelFailed)
    assert "\n" not in str(caught.value)
    assert caught.value.result.status == "failed"
    assert (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"context": "no/such/dir"}, rlm_tui.InputError, "no/such/dir: no such file or directory"),
    ({"modle": "openai/x"}, rlm_tui.ConfigError, "modle: unknown setting"),
    ({"max_cost": -1}, rlm_tui.ConfigError, "max_cost: "),
    ({"model": None}, rlm_tui.UsageError, "no model"),
    ({"context": 42}, rlm_tui.UsageError, "context: not a path"),
])
def test_bad_input_is_one_line_error(openai_server, repo, kwargs, error, message, capfd):
    args = {**settings(openai_server), "context": repo, "transcript": False, **kwargs}
    with pytest.raises(error) as caught:
        rlm_tui.ask("Anything?", **args)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert capfd.readouterr() == ("", "")


def test_an_empty_question_is_a_usage_error(repo):
    with pytest.raises(rlm_tui.UsageError):
        rlm_tui.ask("  ", context=repo, model="demo", transcript=False)


async def test_ask_waits_from_inside_a_running_event_loop(repo):
    # A notebook's cell runs inside an event loop: the sync call still answers.
    result = rlm_tui.ask("What is here?", context=repo, model="demo", transcript=False)
    assert result.status == "answered"


def test_import_rlm_tui_imports_no_engine_litellm_textual_or_ray():
    code = ("import sys, rlm_tui\n"
            "heavy = [m for m in ('litellm', 'textual', 'ray', 'pydantic', 'rlm_tui.engine')"
            " if m in sys.modules]\n"
            "rlm_tui.Session, rlm_tui.ask, rlm_tui.Result\n"
            "after = [m for m in ('litellm', 'textual', 'ray', 'aiohttp') if m in sys.modules]\n"
            "print(heavy, after)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[] []"


def test_the_public_names_are_listed_and_typed():
    assert set(rlm_tui.__all__) <= set(dir(rlm_tui))
    for name in rlm_tui.__all__:
        assert getattr(rlm_tui, name) is not None
    package = Path(rlm_tui.__file__).parent
    assert (package / "py.typed").exists() and (package / "__init__.pyi").exists()


class Checkpoint(pydantic.BaseModel):
    checkpoint: bool
    reason: str
    confidence: float


async def test_a_pydantic_schema_met_after_one_rejection_gives_the_model(openai_server, repo):
    script = Scripted([
        repl("FINAL({'checkpoint': 'maybe'})"),
        repl("FINAL({'checkpoint': True, 'reason': 'tests pass', 'confidence': 0.9})"),
        repl("FINAL('src/app.py')"),
    ])
    openai_server.responder = script
    async with rlm_tui.Session(repo, transcript=False, **settings(openai_server)) as session:
        stream = session.events()
        verdict = await session.ask("Should we checkpoint?", schema=Checkpoint)
        free = await session.ask("Which file worries you most?")  # no schema: any text
    assert verdict.validated and verdict.value == Checkpoint(checkpoint=True,
                                                             reason="tests pass",
                                                             confidence=0.9)
    assert json.loads(verdict.answer) == verdict.value.model_dump()
    assert verdict.iterations == 2
    assert not free.validated and free.value == "src/app.py"
    rejected = [e for e in [e async for e in stream] if e.type == "answer_rejected"]
    assert len(rejected) == 1
    # The model was told what was wrong, and shown the shape in its system prompt.
    assert "checkpoint" in str(script.root_requests[1]["messages"][-1]["content"])
    assert "confidence" in script.root_requests[0]["messages"][0]["content"]


def test_a_json_schema_dict_validates_the_answer(openai_server, repo):
    openai_server.responder = Scripted([repl("FINAL({'ok': True})")])
    result = rlm_tui.ask("Fine?", context=repo, transcript=False,
                         schema={"type": "object", "required": ["ok"],
                                 "properties": {"ok": {"type": "boolean"}}},
                         **settings(openai_server))
    assert result.validated and result.value == {"ok": True} and result.answer == '{"ok": true}'


@pytest.mark.parametrize("schema", [{"type": "no-such-type"}, 42, str])
def test_a_broken_schema_is_one_line_before_anything_runs(openai_server, repo, schema):
    with pytest.raises(rlm_tui.RlmTuiError) as caught:
        rlm_tui.ask("Fine?", context=repo, transcript=False, schema=schema,
                    **settings(openai_server))
    assert "\n" not in str(caught.value)
    assert openai_server.completion_requests == []


def test_a_host_function_is_called_from_the_repl(openai_server, repo):
    calls = []

    def lookup_issue(number: int) -> dict:
        """The issue tracker's record of an issue."""
        calls.append(number)
        if number == 0:
            raise ValueError("no issue 0")
        return {"number": number, "title": f"issue {number}"}

    script = Scripted([
        repl("try:\n    lookup_issue(0)\nexcept RuntimeError as exc:\n    print(exc)"),
        repl("FINAL(lookup_issue(24)['title'])"),
    ])
    openai_server.responder = script
    result = rlm_tui.ask("What is issue 24 called?", context=repo, transcript=False,
                         tools={"lookup_issue": lookup_issue}, **settings(openai_server))
    assert result.answer == "issue 24" and calls == [0, 24]
    # The model was shown the tool, and the raised error's one line.
    assert "lookup_issue(number: int)" in script.root_requests[0]["messages"][0]["content"]
    assert "no issue 0" in str(script.root_requests[1]["messages"][-1]["content"])


def test_a_tool_with_a_name_the_repl_cannot_give_is_one_line(repo):
    with pytest.raises(rlm_tui.UsageError) as caught:
        rlm_tui.ask("x", context=repo, model="demo", transcript=False,
                    tools={"FINAL": lambda: 1})
    assert "\n" not in str(caught.value)
async def test_an_open_session_listens_on_a_control_socket_its_transcript_names(
        openai_server, repo, tmp_path, monkeypatch):
    from rlm_tui.remote.client import send_command

    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    openai_server.responder = Scripted([repl("FINAL('done')")])
    transcript = tmp_path / "t.jsonl"
    async with rlm_tui.Session(repo, transcript=transcript,
                               **settings(openai_server)) as session:
        socket = session.control_socket
        assert socket is not None and socket.parent == runtime / "rlm-tui"
        assert (await send_command(socket, "state"))["state"] == "idle"
        await session.ask("Anything?")
        assert json.loads(transcript.read_text().splitlines()[0])["control_socket"] == \
            str(socket)
        assert session.warnings == []
    assert session.control_socket is None and not socket.exists()


async def test_control_socket_false_opens_none(openai_server, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    openai_server.responder = Scripted([repl("FINAL('done')")])
    transcript = tmp_path / "t.jsonl"
    async with rlm_tui.Session(repo, transcript=transcript, control_socket=False,
                               **settings(openai_server)) as session:
        await session.ask("Anything?")
        assert session.control_socket is None
    assert "control_socket" not in json.loads(transcript.read_text().splitlines()[0])
    assert not (tmp_path / "rlm-tui").exists()


def test_two_repositories_and_records_as_data_in_one_question(openai_server, repo, tmp_path):
    other = tmp_path / "platform"
    other.mkdir()
    (other / "routes.py").write_text("ROUTES = ['/v1/items']\n")
    records = [{"id": 1, "title": "items 404"}, {"id": 2, "title": "login slow"}]
    script = Scripted([
        repl("print(sorted(sdk.files), sorted(platform.files), len(issues))\n"
             "print(sorted(context.files))\n"
             "print(isinstance(issues, list), issues[0]['title'])"),
        repl("FINAL({'files': len(context.files), 'first': issues[0]['title']})"),
    ])
    openai_server.responder = script
    result = rlm_tui.ask("Which issue touches which repository?", transcript=False,
                         context={"sdk": repo, "platform": other, "issues": records},
                         schema={"type": "object", "required": ["files", "first"]},
                         **settings(openai_server))
    assert result.value == {"files": 4, "first": "items 404"}
    shown = str(script.root_requests[1]["messages"][-1]["content"])
    assert "['README.md', 'src/app.py'] ['routes.py'] 2" in shown
    assert "platform/routes.py" in shown and "sdk/src/app.py" in shown
    assert "True items 404" in shown
    # The metadata named each source; the records themselves never reached the root.
    first = str(script.root_requests[0]["messages"])
    assert "sdk" in first and "platform" in first and "issues" in first
    assert "login slow" not in first
