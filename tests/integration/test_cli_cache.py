"""`rlm-tui run --json` with a server that reports cached tokens: the totals carry them and
the cost is the bill; --prompt-cache off is recorded in the transcript."""

from __future__ import annotations

import json
import os

import pytest

from tests.integration.openai_server import PromptCache
from tests.integration.test_cli_run import rlm_tui
from tests.integration.test_engine import Scripted, repl
from tests.integration.test_prompt_cache import LONG, bill


def test_json_totals_carry_cached_tokens_and_the_real_cost(openai_server, tmp_path):
    (tmp_path / "ctx.txt").write_text("hello\n" * 50)
    config = tmp_path / "config.toml"
    config.write_text('[prices."openai/root"]\ninput = 1.0\noutput = 4.0\ncached_input = 0.1\n'
                      '[prices."openai/sub"]\ninput = 1.0\noutput = 4.0\ncached_input = 0.1\n')
    openai_server.prompt_cache = PromptCache(min_tokens=64, step_tokens=16)
    openai_server.responder = Scripted([repl("x = 1"), repl("a = llm_query('hi')"),
                                        repl("FINAL('ok')")])
    transcript = tmp_path / "t.jsonl"
    done = rlm_tui("run", str(tmp_path / "ctx.txt"), "-q", LONG, "--model", "openai/root",
                   "--sub-model", "openai/sub", "--api-base", openai_server.base_url,
                   "--config", str(config), "--json", "--prompt-cache", "off",
                   "--transcript", str(transcript))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    cached = sum((u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
                 for u in openai_server.usages)
    assert result["tokens"]["cached"] == cached > 0
    assert result["tokens"]["cache_write"] == 0
    assert result["cost_usd"] == pytest.approx(bill(openai_server.usages), abs=1e-6)
    started = next(json.loads(line) for line in transcript.read_text().splitlines()
                   if '"session_started"' in line)
    assert started["prompt_cache"] == "off"
    assert os.path.exists(transcript)
