"""The commands that serve many sessions or other programs: `eval`, `mcp`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rlm_tui.cli.flags import add_run_arguments, byte_size, settings_from_args, traced_if_asked
from rlm_tui.errors import UsageError

def add_eval_command(commands: Any) -> None:
    command = commands.add_parser(
        "eval",
        help="run many tasks (a tasks file or a built-in suite), score them, summarise",
        description="Run each task of TASKS.jsonl (one JSON object a line: id, query, "
        "context or context_text, expected, scorer) as its own session, score the answers, "
        "and write results.jsonl, a transcript per task, summary.md and summary.html to "
        "--out (default: evals/NAME-TIME/ in the user data dir). Run it again on the same "
        "--out to resume: finished tasks are skipped. --max-cost is the whole eval's: no "
        "task starts once it is reached. Exit codes: 0 every task ran (a wrong answer is a "
        "result), 1 some task could not run or was not started, 2 bad usage or tasks file, "
        "3 a provider failure before any task ran.",
    )
    command.add_argument("tasks", nargs="?", metavar="TASKS.jsonl", help="the tasks file")
    suite = command.add_argument_group("built-in suites (instead of a tasks file)")
    suite.add_argument("--suite", choices=("sniah", "oolong", "pairs"),
                       help="generate tasks with known answers")
    suite.add_argument("--size", type=byte_size, metavar="CHARS",
                       help="characters of context per task (100000)")
    suite.add_argument("--n", type=int, metavar="N", help="how many tasks (8)")
    suite.add_argument("--seed", type=int, metavar="S", help="the generator's seed (0)")
    add_run_arguments(command)
    evals = command.add_argument_group("eval")
    evals.add_argument("--out", metavar="DIR", help="the eval's directory (resumes one)")
    evals.add_argument("--workers", type=int, default=4, metavar="N",
                       help="tasks at once, each with its own sandbox worker (4)")
    evals.add_argument("--baseline", action="store_true", help="also ask the root model "
                       "once per task with the whole context in its prompt (cut to its "
                       "window)")
    evals.add_argument("--baseline-window", type=int, metavar="TOKENS",
                       help="the root model's window for the baseline (default: from "
                       "litellm's price map, else 128000)")
    evals.add_argument("--json", action="store_true", help="print one JSON summary object")
    evals.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run each task as a Ray task: on a local Ray, or on the cluster "
                       "at ADDRESS (auto, ray://host:10001); needs rlm-tui[ray]")
    evals.add_argument("--ray-ship-max", type=byte_size, default=64 << 20, metavar="BYTES",
                       help="contexts up to this size travel through Ray's object store, "
                       "larger ones by path on a shared file system (64M)")
    command.set_defaults(handler=run_eval_command)


def run_eval_command(args: argparse.Namespace) -> int:
    from rlm_tui.eval.command import run_eval

    return run_eval(args, traced_if_asked(settings_from_args(args)))


def add_mcp_command(commands: Any) -> None:
    command = commands.add_parser(
        "mcp",
        help="serve RLM answers to an MCP client (a coding agent) over stdio",
        description="Run a Model Context Protocol server on stdin/stdout with two tools: "
        "rlm_ask (a question over paths, answered by an RLM session of its own, with its "
        "cost, progress notifications, and a halt when the client cancels) and rlm_context "
        "(what the model would be told about paths, and what is skipped and why). Models, "
        "servers, budgets and limits are this command's flags and config: a client may pick "
        "one of the configured models and lower a budget, never raise one or choose an API "
        "base. Paths outside the allowed roots (--allow; default: the current directory) "
        "are refused, symlinks resolved first. Needs rlm-tui[mcp]. Exit codes: 0 the client "
        "closed the connection, 2 bad usage, config or --allow, 3 a model that cannot be "
        "used (no key, an unknown provider).",
    )
    command.add_argument("--allow", action="append", metavar="DIR",
                         help="a directory whose files clients may ask about (repeatable; "
                         "default: the current directory)")
    add_run_arguments(command)
    command.set_defaults(handler=run_mcp_command)


def run_mcp_command(args: argparse.Namespace) -> int:
    import contextlib

    # stdout is the protocol's: nothing said while starting may land there.
    with contextlib.redirect_stdout(sys.stderr):
        try:  # the `mcp` extra: pip install 'rlm-tui[mcp]'
            from rlm_tui.mcp.server import serve
        except ModuleNotFoundError as exc:
            if exc.name is None or not exc.name.startswith("mcp"):
                raise
            raise UsageError("rlm-tui mcp needs the mcp extra: pip install "
                             "'rlm-tui[mcp]'") from None
        from rlm_tui.engine.workspace import check_models

        settings = settings_from_args(args)
        check_models(settings)  # no model, no key: one line now, not at every call
    return serve(settings, args.allow or ())
