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
{tools}- `FINAL(value)` ends the run with value as the answer (a dict or a list as JSON, anything \
else as str(value)); `FINAL_VAR("name")` ends it with the value of the variable `name` (use \
it for long answers).
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
    "sources": (
        "every source below as one read-only mapping of path -> text, each path starting "
        "with its source's name, with the same context.files, context.text, "
        "context.grep(pattern, paths=None) and context.read(path, start_line, end_line); "
        "each source is also its own variable, named below (a directory: such a mapping of "
        "its own files; a file: a str; data: read-only lists and dicts)"
    ),
    "data": "read-only JSON data (lists and dicts), described below",
    "none": "None (there is no context in this run)",
}


@dataclass(frozen=True)
class PromptFacts:
    context_kind: str  # mapping | text | sources | data | none
    metadata: str
    max_iterations: int
    depth: int
    max_depth: int
    cell_timeout: float
    output_chars: int
    max_cost: float | None = None
    max_tokens: int | None = None
    max_time: float | None = None
    answer_shape: str | None = None  # the schema's description, when the answer has one
    tools: str = ""  # engine.tools.ToolSet.describe(): one line per tool


_TOOLS = """\
- The host's tools: functions of the program that runs you, called like any function; \
arguments and results are JSON data (str, int, float, bool, None, list, dict), and their time \
counts toward the cell's. A tool that fails raises RuntimeError with its message:
{lines}
"""


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
    prompt = _SYSTEM.format(
        context_kind=_CONTEXT_KINDS.get(facts.context_kind, _CONTEXT_KINDS["none"]),
        rlm_note=rlm_note,
        modules=modules,
        cell_timeout=facts.cell_timeout,
        output_chars=facts.output_chars,
        budget=", ".join(budget),
        tools=_TOOLS.format(lines=_indented(facts.tools)) if facts.tools else "",
    )
    if facts.answer_shape:
        prompt += f"\n{facts.answer_shape}\n"
    return prompt


def _indented(lines: str) -> str:
    return "\n".join("  " + line for line in lines.splitlines())


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


def forced_final_message(*, shaped: bool = False) -> str:
    """`shaped`: the answer must match a schema (it is checked, and this is its last
    chance)."""
    text = ("You have used every turn. No more code will run. Reply now with your best answer "
            "as FINAL(your answer), from what you have seen so far.")
    if shaped:
        text += (" It must be JSON of the required shape, written out in the FINAL(...) or "
                 "named by FINAL_VAR(\"name\"); an answer that does not match ends the run "
                 "without one.")
    return text


def follow_up_message(query: str, max_iterations: int, shape: str | None = None) -> str:
    """A follow-up question on the same REPL: its variables are still there. `shape`: what
    its answer must be, when that differs from what the system prompt says."""
    text = (f"Follow-up question: {query}\n\n"
            "The REPL still holds your variables from the earlier questions, and `context` is "
            f"the same. Explore with code, then answer. Turn 1 of {max_iterations}.")
    return text + (f"\n\nThis question's answer: {shape}" if shape else "")


FREE_ANSWER = "any text: the shape given in the system prompt does not apply to it."


def rejected_message(errors: list[str], outputs: list[str], iteration: int,
                     max_iterations: int) -> str:
    """An answer without the shape asked for, sent back: the errors (and the output of the
    cells that ran before it)."""
    shown = ""
    if outputs:
        shown = "REPL output:\n" + "\n\n".join(
            f"[cell {i}]\n{out}" if len(outputs) > 1 else f"[output]\n{out}"
            for i, out in enumerate(outputs, 1)) + "\n\n"
    listed = "\n".join(f"- {error}" for error in errors)
    left = max_iterations - iteration
    return (f"{shown}Your answer was not accepted: it does not match the required shape.\n"
            f"{listed}\n\nFix it and call FINAL again. Turn {iteration + 1} of "
            f"{max_iterations} ({left} left).")


def note_message(text: str) -> str:
    """A note from the person watching the run, as the model reads it."""
    return f"Note from the person watching this run: {text}"


def edited_output(code: str, output: str) -> str:
    """A cell the person edited before it ran: the model sees the code that ran."""
    return ("[the person watching edited this cell before it ran; the code that ran:]\n"
            f"```repl\n{code.rstrip()}\n```\n{output}")


def skipped_output() -> str:
    return "[the person watching skipped this cell: it did not run]"


def summary_request() -> str:
    """Asked once when the conversation nears its window (as rlms asks): the summary that
    replaces the older iterations."""
    return ("Your conversation is about to outgrow the model's context window: its older "
            "part will be replaced by your summary. Summarize your progress so far. "
            "Include:\n"
            "1. Which steps/sub-tasks you have completed and which remain.\n"
            "2. Any concrete intermediate results (numbers, values, variable names) you "
            "computed — preserve these exactly.\n"
            "3. What your next action should be.\n"
            "Be concise (1-3 paragraphs) but preserve all key results and your current "
            "position in the task. Write no code in this reply.")


def compacted_message(count: int, replaced: int) -> str:
    """After the summary: what happened, and where the rest is."""
    times = "once" if count == 1 else f"{count} times"
    return (f"[Your conversation has been compacted {times}: {replaced} older messages were "
            "replaced by the summary above. Every message so far is in the REPL variable "
            "`history` (a list of {'role', 'content'} dicts); your REPL variables "
            "are all still there. Continue from the summary; do not repeat work already "
            "done.]")
