"""`rlm-tui run` as scripts use it: a real subprocess against the local test server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.openai_server import Reply
from tests.integration.test_engine import Scripted, repl

CANARY_KEY = "sk-canary-0123456789abcdefghijklmnop"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("def main():\n    return 'hello'\n")
    (root / "README.md").write_text("# app\nSays hello.\n")
    (root / ".env").write_text(f"OPENAI_API_KEY={CANARY_KEY}\n")
    (root / "config.py").write_text(f'API_TOKEN = "ghp_{"a1B2c3D4" * 5}"\n')
    return root


def rlm_tui(*args: str, env_extra: dict[str, str] | None = None, timeout: float = 120,
            **kwargs) -> subprocess.CompletedProcess:
    # No user config may leak in: the platform config dir points at an empty place.
    env = {**os.environ, "OPENAI_API_KEY": CANARY_KEY, "XDG_CONFIG_HOME": os.devnull,
           **(env_extra or {})}
    env.pop("RLM_TUI_MODEL", None)
    return subprocess.run([sys.executable, "-m", "rlm_tui", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, **kwargs)


def model_args(server, *extra: str) -> list[str]:
    return ["--model", "openai/root", "--sub-model", "openai/sub", "--api-base",
            server.base_url, "--config", os.devnull, *extra]


def test_the_answer_alone_goes_to_stdout_and_exit_is_0(openai_server, repo, tmp_path):
    openai_server.responder = Scripted([
        repl("print(sorted(context))"),
        repl("a = llm_query('what does main return? ' + context['src/app.py'])\nFINAL_VAR('a')"),
    ], sub=lambda p: "It returns 'hello'.")
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "--query", "What does main return?",
                   *model_args(openai_server), "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "It returns 'hello'.\n"
    assert done.stderr == ""  # not a terminal: no progress line
    lines = transcript.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["type"] == "header" and header["query"] == "What does main return?"
    kinds = [json.loads(line)["type"] for line in lines[1:]]
    assert kinds[0] == "session_started" and "session_finished" in kinds


def test_json_output_carries_the_totals(openai_server, repo, tmp_path):
    openai_server.responder = Scripted(
        [Reply(text=repl("r = llm_query_batched(['a', 'b'])\nFINAL('two')"),
               usage={"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120})],
        sub=lambda p: Reply(text="x", usage={"prompt_tokens": 5, "completion_tokens": 1,
                                             "total_tokens": 6}))
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server), "--json",
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answer"] == "two" and result["status"] == "answered"
    assert result["iterations"] == 1 and result["sub_calls"] == 2
    assert result["tokens"] == {"prompt": 110, "completion": 22, "total": 132, "cached": 0,
                                "cache_write": 0, "estimated": False}
    assert result["cost_usd"] is None  # an unpriced model on a local server: cost unknown
    assert result["transcript"].endswith("t.jsonl")


def test_json_output_and_the_transcript_escape_a_models_c1_controls(openai_server, repo,
                                                                     tmp_path):
    answer = "red\x9b31m \x85 \x7f done"
    openai_server.responder = Scripted([repl(f"FINAL({answer!r})")])
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server), "--json",
                   "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    for text in (done.stdout, transcript.read_text(encoding="utf-8")):
        assert not any(0x7F <= ord(ch) < 0xA0 for ch in text) and "\\u009b31m" in text
    assert json.loads(done.stdout)["answer"] == answer


def test_custom_prices_from_the_config_file_price_the_run(openai_server, repo, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[prices."openai/root"]\ninput = 1.0\noutput = 2.0\n')
    openai_server.responder = lambda body: Reply(
        text=repl("FINAL(1)"),
        usage={"prompt_tokens": 1_000_000, "completion_tokens": 500_000,
               "total_tokens": 1_500_000})
    done = rlm_tui("run", str(repo), "-q", "q", "--model", "openai/root", "--api-base",
                   openai_server.base_url, "--config", str(config), "--json",
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cost_usd"] == pytest.approx(2.0)


def test_no_secret_reaches_the_server_or_the_transcript(openai_server, repo, tmp_path):
    openai_server.responder = Scripted([
        repl("print(context.text)"),
        repl("r = llm_query(context.text)\nFINAL('done')"),
    ])
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    sent = "".join(r.raw_body + json.dumps(r.headers) for r in openai_server.requests)
    written = transcript.read_text()
    for secret in (CANARY_KEY, "ghp_a1B2c3D4"):
        assert secret not in sent and secret not in written
    assert "def main()" in sent  # the files themselves did go through


def test_a_budget_stop_exits_1_without_an_answer(openai_server, repo, tmp_path):
    openai_server.responder = lambda body: Reply(
        text=repl("x = 1"), usage={"prompt_tokens": 900, "completion_tokens": 200,
                                   "total_tokens": 1100})
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--max-tokens", "1000", "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "tokens budget reached" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_server_that_reports_no_usage_is_estimated_and_the_token_budget_holds(
        openai_server, repo, tmp_path):
    # llama.cpp streams no usage: --max-tokens 2000 let a run use about 17,900 tokens.
    openai_server.responder = lambda body: Reply(text=repl("x = 1\n" + "# pad\n" * 400),
                                                 send_usage=False)
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--max-tokens", "2000", "--json", "--transcript", str(transcript))
    assert done.returncode == 1, done.stderr
    assert "tokens budget reached" in done.stderr
    result = json.loads(done.stdout)
    assert result["tokens"]["estimated"] is True
    assert 2000 <= result["tokens"]["total"] < 6000  # it stopped at the first turn past it
    assert result["cost_usd"] is None  # estimated tokens are never priced
    from rlm_tui.transcript import read_transcript

    usage = read_transcript(transcript).fold().totals.usage
    assert not usage.reported and usage.total_tokens == result["tokens"]["total"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply.unauthorized(), "API key"),
        (Reply.model_not_found("openai/root"), "does not exist"),
    ],
)
def test_provider_failures_exit_3_with_one_line(openai_server, repo, tmp_path, reply, message):
    openai_server.responder = lambda body: reply
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 3
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert CANARY_KEY not in done.stderr


def test_an_unreachable_server_exits_3(repo, tmp_path):
    done = rlm_tui("run", str(repo), "-q", "q", "--model", "openai/x", "--api-base",
                   "http://127.0.0.1:9/v1", "--config", os.devnull,
                   "--transcript", str(tmp_path / "t.jsonl"),
                   env_extra={"RLM_TUI_MAX_RETRIES": "0"})
    assert done.returncode == 3
    assert "cannot reach" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "/no/such/path", "-q", "q", "--model", "demo"], "no such file"),
        (["run", ".", "-q", "q"], "no model"),
        (["run", ".", "-q", "q", "--model", "demo", "--max-iterations", "0"],
         "--max-iterations"),
        (["run", ".", "--model", "demo"], "required"),
        (["run", ".", "-q", "q", "--model", "demo", "--config", "/no/such.toml"],
         "config file not found"),
        (["run", ".", "-q", "q", "--model", "demo", "--api-base", "ftp://x"], "--api-base"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, message, tmp_path):
    (tmp_path / "notes.md").write_text("# notes\n")
    done = rlm_tui(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_sigint_halts_the_run_closes_the_transcript_and_leaves_no_worker(openai_server, repo,
                                                                         tmp_path):
    openai_server.responder = Scripted([repl("while True:\n    pass")])
    transcript = tmp_path / "t.jsonl"
    env = {**os.environ, "OPENAI_API_KEY": CANARY_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlm_tui", "run", str(repo), "-q", "q",
         *model_args(openai_server), "--transcript", str(transcript)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while '"cell_started"' not in (transcript.read_text() if transcript.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                             text=True).stdout.split()
    assert workers  # the worker running the cell
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "interrupted by SIGINT" in err
    events = [json.loads(line) for line in transcript.read_text().splitlines()[1:]]
    finished = [e for e in events if e["type"] == "session_finished"]
    assert finished and finished[0]["status"] == "halted"
    alive = [p for p in workers if Path(f"/proc/{p}/status").exists()
             and "State:\tZ" not in Path(f"/proc/{p}/status").read_text()]
    assert alive == []


def test_a_cost_budget_with_an_unpriced_model_is_a_warning_at_start(openai_server, repo,
                                                                      tmp_path):
    openai_server.responder = lambda body: Reply(text="FINAL(done)")
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server), "--max-cost", "1",
                   "--json", "--transcript", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert warnings == ["rlm-tui: warning: --max-cost 1 cannot be enforced: openai/root, "
                        "openai/sub has no price (give it one in the config's [prices])"]
    result = json.loads(done.stdout)
    assert result["cost_usd"] is None and result["cost_complete"] is False


def test_a_model_that_never_stops_is_cut_at_the_cap_and_its_forced_answer_is_none(
        openai_server, repo, tmp_path):
    # Gemma 270M parroted the system prompt until its 32k context was full (25 minutes), and
    # the truncated parrot became the answer, exit 0.
    openai_server.responder = lambda body: Reply(text="You are a recursive language model",
                                                 ramble=True, send_usage=False)
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(repo), "-q", "q", *model_args(openai_server),
                   "--max-iterations", "1", "--max-output-tokens", "40",
                   "--transcript", str(transcript))
    assert done.returncode == 1 and done.stdout == ""
    assert "cut off at its cap of output tokens" in done.stderr
    bodies = [r.json for r in openai_server.requests if isinstance(r.json, dict)]
    assert bodies and all(b.get("max_tokens") == 40 for b in bodies)
    from rlm_tui.transcript import read_transcript
    from rlm_tui.transcript.export import export_transcript

    saved = read_transcript(transcript)
    assert all(it.cut for it in saved.fold().root.iterations)
    assert "cut at its cap of output tokens" in export_transcript(saved, "markdown")
