"""Prompt caching: the cache breakpoints a provider needs to reuse a conversation's prefix.

OpenAI, Gemini, DeepSeek and most OpenAI-compatible servers cache a repeated prefix by
themselves. Anthropic's models (direct, or through Bedrock, Vertex AI or OpenRouter) cache only
up to a `cache_control` breakpoint the request marks. The root conversation only grows, so
two breakpoints serve every request: the system prompt (shared by every session with the same
settings) and the newest message (this request's whole prefix, which the next request
repeats and extends). Anthropic allows four; litellm passes content blocks carrying
`cache_control` on to each of these providers in its own form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

PromptCacheMode = Literal["auto", "off"]
EPHEMERAL: Mapping[str, str] = {"type": "ephemeral"}
# Providers through which Claude models take Anthropic's markers (litellm's prefixes).
_CLAUDE_HOSTS = frozenset({"bedrock", "bedrock_converse", "vertex_ai", "vertex_ai_beta",
                           "openrouter"})


def needs_cache_markers(model: str) -> bool:
    """Whether calls to `model` (litellm's name) cache only what `cache_control` marks."""
    provider, slash, name = model.partition("/")
    if not slash:
        return model.lower().startswith("claude")  # litellm takes a bare claude name as anthropic's
    if provider == "anthropic":
        return True
    lowered = name.lower()
    return provider in _CLAUDE_HOSTS and ("claude" in lowered or "anthropic" in lowered)


def prompt_cache_mode(setting: str, model: str) -> Literal["markers", "provider", "off"]:
    """What a session's transcript says of its prompt caching: breakpoints sent ("markers"),
    left to the provider ("provider"), or turned off ("off")."""
    if setting == "off":
        return "off"
    return "markers" if needs_cache_markers(model) else "provider"


def with_cache_markers(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A copy of `messages` with an ephemeral breakpoint on the system prompt and on the
    newest message, their text as one content block each (the others unchanged). A message
    with no text gets none (Anthropic refuses a breakpoint on an empty block)."""
    marked = [dict(m) for m in messages]
    targets = {len(marked) - 1} if marked else set()
    if marked and marked[0].get("role") == "system":
        targets.add(0)
    for index in sorted(targets):
        marked[index] = _marked(marked[index])
    return marked


def _marked(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return message
        return {**message, "content": [{"type": "text", "text": content,
                                        "cache_control": dict(EPHEMERAL)}]}
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        blocks = [dict(b) if isinstance(b, dict) else b for b in content]
        blocks[-1] = {**blocks[-1], "cache_control": dict(EPHEMERAL)}
        return {**message, "content": blocks}
    return message
