"""A compaction of the root conversation (a `compacted` event), as every view says it: the
Reasoning pane, the replay, the Markdown and HTML exports."""

from __future__ import annotations

from rlm_tui import events as ev


def describe_compaction(c: ev.Compacted) -> str:
    """One line: where it happened, what replaced what, and the sizes."""
    if c.reason == "no_window":
        return (f"compaction off: the input window of {c.model or 'the root model'} is not "
                "known (--root-window N sets it)")
    if not c.replaced:
        return "compaction stopped: its summary call did not finish"
    if c.first_iteration is not None and c.last_iteration is not None:
        span = (f"iteration {c.first_iteration}" if c.first_iteration == c.last_iteration
                else f"iterations {c.first_iteration}-{c.last_iteration}")
        what = f"{span} ({c.replaced} messages)"
    else:
        what = f"{c.replaced} messages"
    why = " (the server refused the prompt as too long)" if c.reason == "context_window" else ""
    sizes = ""
    if c.tokens_before:
        window = f" of a {c.window:,}-token window" if c.window else ""
        sizes = f"; ~{c.tokens_before:,} → ~{c.tokens_after:,} tokens{window}"
    copy = ", as the record has it" if c.rebuilt else ""
    return (f"⇵ compaction {c.count}{why}: {what} replaced by the model's summary{sizes}; "
            f"the full history is `history` in the REPL{copy}")
