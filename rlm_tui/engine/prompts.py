"""What the root model is told: the system prompt and the messages of each turn.

The root never sees the context's text, only its metadata; the system prompt teaches the REPL
contract, the sandbox's limits, the budgets and how to work well (after Zhang, Kraska and
Khattab, "Recursive Language Models", 2025).
"""

from __future__ import annotations

from dataclasses import dataclass

from rlm_tui.sandbox.modules import ALLOWED_MODULES

_SYSTEM = """\
You are the root of a Recursive Language Model. You answer a question about a context far too \
large to read at once. The context is not in this conversation: it is the variable `context` \
in a persistent Python REPL that you drive by writing code blocks:

```repl
print(len(context))
```

Every ```repl block in your reply runs, in order; next turn you see what it printed. \
Variables persist across blocks and turns.

In the REPL:
- `context`: {context_kind}
- `llm_query(prompt, model=None) -> str`: ask a sub-model; it sees only that prompt and reads \
about 100,000 characters well.
- `llm_query_batched(prompts, model=None) -> list[str]`: many prompts, run concurrently; a \
failed one comes back as "Error: ..." in its place.
- `rlm_query(prompt, context=None) -> str`: {rlm_note}
- `SHOW_VARS()` lists your variables.
- `FINAL(value)` ends the run with str(value) as the answer; `FINAL_VAR("name")` ends it with \
the value of the variable `name` (use it for long answers).
- Modules you may import: {modules}.

The sandbox: no files, network, os, sys or subprocess; names starting with "_" and dunder \
attributes are refused. A cell may run {cell_timeout:g} s (waiting for sub-calls does not \
count). You see at most {output_chars:,} characters of a cell's output: print counts, \
samples and summaries, never whole files.

Budget: {budget}.

How to work:
1. Look before you answer: print sizes, paths, a few samples.
2. Narrow down with code (regex, context.grep, slicing) before reading anything.
3. Send the relevant pieces, not everything, to sub-models, in batches; keep each prompt under \
about 100,000 characters and say in it what you need back.
4. Keep results in variables and build the answer from them.
5. Finish with FINAL(...) or FINAL_VAR("name") in a ```repl block, once you have seen the \
evidence. Never state what code will print before it has run.
"""

_CONTEXT_KINDS = {
    "mapping": (
        "a read-only mapping of path -> file text, in path order; also context.files (the "
        "paths), context.text (every file, each after a header line), "
        "context.grep(pattern, paths=None) -> matches with path, line and text, and "
        "context.read(path, start_line, end_line)"
    ),
    "text": "a str holding the whole text",
    "none": "None (there is no context in this run)",
}


@dataclass(frozen=True)
class PromptFacts:
    context_kind: str  # mapping | text | none
    metadata: str
    max_iterations: int
    depth: int
    max_depth: int
    cell_timeout: float
    output_chars: int
    max_cost: float | None = None
    max_tokens: int | None = None
    max_time: float | None = None


def system_prompt(facts: PromptFacts) -> str:
    budget = [f"{facts.max_iterations} turns"]
    if facts.max_cost:
        budget.append(f"${facts.max_cost:g} in model costs")
    if facts.max_tokens:
        budget.append(f"{facts.max_tokens:,} tokens")
    if facts.max_time:
        budget.append(f"{facts.max_time:g} seconds")
    if facts.depth + 1 < facts.max_depth:
        rlm_note = ("start a child RLM one level deeper on a sub-question, with its own REPL "
                    "whose context is the one you pass (a str, or a dict of str), or this "
                    "context when you pass none")
    else:
        rlm_note = "at this depth, the same as llm_query(prompt) with the context appended"
    modules = ", ".join(sorted(n for n in ALLOWED_MODULES if "." not in n))
    return _SYSTEM.format(
        context_kind=_CONTEXT_KINDS.get(facts.context_kind, _CONTEXT_KINDS["none"]),
        rlm_note=rlm_note,
        modules=modules,
        cell_timeout=facts.cell_timeout,
        output_chars=facts.output_chars,
        budget=", ".join(budget),
    )


def first_message(query: str, facts: PromptFacts) -> str:
    return (
        f"Question: {query}\n\n"
        f"What the context holds (metadata only; the text is in `context`):\n{facts.metadata}\n\n"
        "Explore the context with code, then answer. Turn 1 of "
        f"{facts.max_iterations}."
    )


def output_message(outputs: list[str], iteration: int, max_iterations: int) -> str:
    parts = []
    for i, out in enumerate(outputs, 1):
        label = f"[cell {i}]" if len(outputs) > 1 else "[output]"
        parts.append(f"{label}\n{out}")
    left = max_iterations - iteration
    if left <= 0:  # the last turn: the request for a final answer comes next
        return "REPL output:\n" + "\n\n".join(parts) + "\n\nThat was the last turn."
    return ("REPL output:\n" + "\n\n".join(parts) +
            f"\n\nTurn {iteration + 1} of {max_iterations} ({left} left). Continue with code, "
            "or finish with FINAL / FINAL_VAR.")


def no_code_message(iteration: int, max_iterations: int) -> str:
    if iteration >= max_iterations:  # never "Turn 4 of 3": the last turn is over
        return "No ```repl block ran. That was the last turn."
    return (f"No ```repl block ran. Write code to make progress, or finish with FINAL(...). "
            f"Turn {iteration + 1} of {max_iterations}.")


def forced_final_message() -> str:
    return ("You have used every turn. No more code will run. Reply now with your best answer "
            "as FINAL(your answer), from what you have seen so far.")


def follow_up_message(query: str, max_iterations: int) -> str:
    """A follow-up question on the same REPL: its variables are still there."""
    return (f"Follow-up question: {query}\n\n"
            "The REPL still holds your variables from the earlier questions, and `context` is "
            f"the same. Explore with code, then answer. Turn 1 of {max_iterations}.")


def note_message(text: str) -> str:
    """A note from the person watching the run, as the model reads it."""
    return f"Note from the person watching this run: {text}"


def edited_output(code: str, output: str) -> str:
    """A cell the person edited before it ran: the model sees the code that ran."""
    return ("[the person watching edited this cell before it ran; the code that ran:]\n"
            f"```repl\n{code.rstrip()}\n```\n{output}")


def skipped_output() -> str:
    return "[the person watching skipped this cell: it did not run]"
