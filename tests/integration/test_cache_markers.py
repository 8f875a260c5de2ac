"""Cache breakpoints for Anthropic's models: what the client sends through litellm's
anthropic route (recorded by the local server, which refuses it), and the builder itself."""

from __future__ import annotations

import pytest

from rlm_tui.lm import ModelCallError, ModelClient, ModelSpec, RetryPolicy
from rlm_tui.lm.prompt_cache import needs_cache_markers, prompt_cache_mode, with_cache_markers

MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a"}, {"role": "user", "content": "output"}]
EPHEMERAL = {"type": "ephemeral"}


@pytest.mark.parametrize("cache_prefix", [True, False])
async def test_an_anthropic_call_marks_the_system_prompt_and_the_newest_message(
        openai_server, cache_prefix):
    client = ModelClient(retry=RetryPolicy(base_delay=0.01, max_delay=0.02))
    spec = ModelSpec(model="anthropic/claude-sonnet-4-5-20250929",
                     api_base=openai_server.base_url.removesuffix("/v1"), max_retries=0,
                     timeout=10)
    with pytest.raises(ModelCallError):
        await client.complete(spec, MESSAGES, cache_prefix=cache_prefix)
    sent = [r.json for r in openai_server.requests if r.path == "/v1/messages"]
    assert len(sent) == 1
    body = sent[0]
    marks = [b.get("cache_control") for b in body["system"]] if isinstance(
        body["system"], list) else [None]
    if cache_prefix:
        assert marks == [EPHEMERAL]
        assert body["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL
        assert all("cache_control" not in b for m in body["messages"][:-1]
                   for b in m["content"])
    else:
        assert "cache_control" not in str(body)


def test_the_builder_leaves_other_messages_and_its_input_alone():
    marked = with_cache_markers(MESSAGES)
    assert marked[0]["content"] == [{"type": "text", "text": "sys", "cache_control": EPHEMERAL}]
    assert marked[1:3] == MESSAGES[1:3]
    assert marked[3]["content"][0]["cache_control"] == EPHEMERAL
    assert MESSAGES[0]["content"] == "sys"  # a copy


@pytest.mark.parametrize(("model", "needs"), [
    ("anthropic/claude-sonnet-4-5", True), ("claude-3-5-haiku-latest", True),
    ("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", True),
    ("vertex_ai/claude-sonnet-4-5", True), ("openrouter/anthropic/claude-sonnet-4.5", True),
    ("openai/gpt-5-mini", False), ("gemini/gemini-2.5-flash", False),
    ("openrouter/openai/gpt-4o", False), ("bedrock/amazon.nova-pro-v1:0", False),
])
def test_which_models_need_markers(model, needs):
    assert needs_cache_markers(model) is needs
    assert prompt_cache_mode("auto", model) == ("markers" if needs else "provider")
    assert prompt_cache_mode("off", model) == "off"
