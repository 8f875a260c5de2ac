"""The REPL contract, as model code uses it, against a real worker process."""

import asyncio

import pytest
import pytest_asyncio

from rlm_tui.sandbox import Sandbox, SandboxLimits, SubcallRequest

pytestmark = pytest.mark.asyncio(loop_scope="module")

calls: list[SubcallRequest] = []


async def answer(request: SubcallRequest) -> str:
    calls.append(request)
    if "fail" in request.prompt:
        raise RuntimeError("the provider said no")
    return f"<{request.kind}:{request.prompt}:{request.model}>"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def repl():
    async with Sandbox({"b.py": "x = 2\n", "a.md": "# A\n"}, on_subcall=answer) as sandbox:
        yield sandbox


async def run(repl, code):
    return await repl.run_cell(code)


async def test_variables_persist_from_one_cell_to_the_next(repl):
    await run(repl, "total = 40")
    result = await run(repl, "total += 2\nprint(total)")
    assert result.stdout == "42\n"


async def test_a_bare_last_expression_is_shown(repl):
    assert (await run(repl, "3 * 7")).stdout == "21\n"


async def test_context_mapping_is_read_only_and_in_path_order(repl):
    result = await run(repl, "print(list(context), context['b.py'].strip())")
    assert result.stdout == "['a.md', 'b.py'] x = 2\n"
    result = await run(repl, "context['new'] = 'x'")
    assert result.error and "TypeError" in result.error


async def test_llm_query_goes_to_the_host(repl):
    result = await run(repl, "print(llm_query('hi', model='small'))")
    assert result.stdout == "<llm:hi:small>\n"
    assert result.subcalls == 1


async def test_batched_failures_come_back_in_place(repl):
    result = await run(repl, "print(llm_query_batched(['a', 'fail', 'c']))")
    assert result.stdout == "['<llm:a:None>', 'Error: the provider said no', '<llm:c:None>']\n"


async def test_rlm_query_carries_its_context(repl):
    calls.clear()
    result = await run(repl, "print(rlm_query('sub', context={'f': 'text'}))")
    assert result.stdout == "<rlm:sub:None>\n"
    assert calls[0].context == {"f": "text"}


async def test_final_ends_the_cell_with_the_answer(repl):
    result = await run(repl, "FINAL(6 * 7)\nprint('not reached')")
    assert result.final_answer == "42"
    assert result.stdout == ""


async def test_final_inside_try_except_is_not_swallowed(repl):
    result = await run(repl, "try:\n    FINAL('yes')\nexcept BaseException:\n    print('caught')")
    assert result.final_answer == "yes"


async def test_final_var_returns_the_variable(repl):
    result = await run(repl, "answer = 'the answer'\nFINAL_VAR('answer')")
    assert result.final_answer == "the answer"
    assert result.final_source == "FINAL_VAR('answer')"


async def test_final_var_with_an_unknown_name_is_an_error_and_the_run_goes_on(repl):
    result = await run(repl, "FINAL_VAR('nothing_here')")
    assert result.final_answer is None
    assert "no variable named 'nothing_here'" in result.error
    assert (await run(repl, "print('still here')")).stdout == "still here\n"


async def test_show_vars_lists_types_and_sizes(repl):
    await run(repl, "items = [1, 2, 3]")
    result = await run(repl, "SHOW_VARS()")
    assert "items: list len 3" in result.stdout


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("d = {}\nd['k'] = 1\nd['k'] += 1\nprint(d)", "{'k': 2}"),
        ("class C:\n    def __init__(self):\n        self.n = 1\nc = C()\nc.n += 1\nprint(c.n)", "2"),
        ("x: int = 5\nprint(x)", "5"),
        ("print(sorted(zip([2, 1], 'ba')))", "[(1, 'a'), (2, 'b')]"),
        ("print(tuple(enumerate('ab')), min(3, 1), max([4, 9]), sum([1, 2]))",
         "((0, 'a'), (1, 'b')) 1 9 3"),
        ("print(list(map(str, filter(None, [0, 1, 2]))), any([0]), all([1]))", "['1', '2'] False True"),
        ("print(isinstance(1, int), getattr('a', 'upper')(), hasattr('a', '_x'))", "True A False"),
        ("print([x * x for x in range(4) if x], {k: v for k, v in [('a', 1)]})", "[1, 4, 9] {'a': 1}"),
        ("print(f'{3:>3}|{\"s\"!r}')", "  3|'s'"),
        ("try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    print('caught', e)", "caught division by zero"),
        ("match {'k': [1, 2]}:\n    case {'k': [a, *rest]}:\n        print(a, rest)", "1 [2]"),
        ("print('{} and {name}'.format(1, name='x'))", "1 and x"),
        ("import re, json, collections\nprint(collections.Counter(re.findall('a', 'aab'))['a'], json.dumps([1]))",
         "2 [1]"),
        ("from collections import defaultdict\ndd = defaultdict(int)\ndd['x'] += 3\nprint(dict(dd))",
         "{'x': 3}"),
        ("from dataclasses import dataclass\n@dataclass\nclass P:\n    x: int\n    y: int = 0\nprint(P(1))",
         "P(x=1, y=0)"),
        ("from enum import Enum\nclass Color(Enum):\n    RED = 1\nprint(Color.RED.name)", "RED"),
        ("import io, csv\nf = io.StringIO()\ncsv.writer(f).writerow([1, 2])\nprint(f.getvalue().strip())",
         "1,2"),
        ("def gen():\n    yield 1\n    yield 2\nprint(list(gen()))", "[1, 2]"),
        ("a, (b, c) = 1, (2, 3)\nprint(a + b + c)", "6"),
        ("from pprint import pprint\npprint({'a': 1})", "{'a': 1}"),
    ],
)
async def test_code_models_commonly_write_works(repl, code, expected):
    result = await run(repl, code)
    assert result.error is None, result.for_model()
    assert result.stdout.rstrip("\n") == expected


async def test_a_forbidden_construct_gets_one_line_with_the_line_number(repl):
    result = await run(repl, "x = 1\ny = x.__class__")
    assert result.error_kind == "refused"
    assert result.for_model().startswith("Line 2:")
    assert "Traceback" not in result.for_model()


async def test_errors_show_a_traceback_of_the_cell_only(repl):
    result = await run(repl, "def f():\n    return 1 / 0\nf()")
    text = result.for_model()
    assert "line 2, in f" in text and "ZeroDivisionError: division by zero" in text
    assert "rlm_tui" not in text and "worker.py" not in text


async def test_output_is_capped_for_the_model_with_a_note():
    limits = SandboxLimits(kept_output_chars=50_000)
    async with Sandbox(limits=limits) as sandbox:
        result = await sandbox.run_cell("print('y' * 100_000)")
    assert result.stdout_total_chars == 100_001
    assert len(result.stdout) == 50_000
    shown = result.for_model(max_chars=1_000)
    assert shown.count("y") == 1_000
    assert "99,001 of 100,001 characters not shown" in shown


async def test_a_cell_that_times_out_keeps_earlier_variables():
    async with Sandbox(limits=SandboxLimits(cell_timeout=0.5)) as sandbox:
        result = await sandbox.run_cell("before = 1\nwhile True:\n    pass")
        assert result.error_kind == "timeout"
        assert not result.worker_restarted
        assert (await sandbox.run_cell("print(before)")).stdout == "1\n"


async def test_waiting_for_sub_calls_does_not_count_against_the_cell_timeout():
    async def slow(request):
        await asyncio.sleep(0.4)
        return "done"

    async with Sandbox(limits=SandboxLimits(cell_timeout=0.5), on_subcall=slow) as sandbox:
        result = await sandbox.run_cell("r = [llm_query('q') for i in range(3)]\nprint(r[-1])")
    assert result.error is None
    assert result.stdout == "done\n"


async def test_an_uninterruptible_cell_is_killed_and_the_model_told_its_variables_are_lost():
    limits = SandboxLimits(cell_timeout=0.2, kill_grace=0.2)
    async with Sandbox(limits=limits) as sandbox:
        await sandbox.run_cell("kept = [str(i * 7919 % 10000019) for i in range(4 * 10**6)]",
                               timeout=60)
        result = await sandbox.run_cell("kept.sort()")  # one long C call: signals wait for it
        assert result.worker_restarted
        assert "variables were lost" in result.for_model()
        after = await sandbox.run_cell("print('kept' in dir())")
        assert after.stdout == "False\n"


async def test_cancelling_a_cell_interrupts_it_and_the_sandbox_stays_usable():
    async with Sandbox(limits=SandboxLimits(cell_timeout=30)) as sandbox:
        task = asyncio.create_task(sandbox.run_cell("n = 0\nwhile True:\n    n += 1"))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        result = await sandbox.run_cell("print(n > 0)")
        assert result.stdout == "True\n"


async def test_cancelling_during_a_sub_call_stops_the_cell():
    started = asyncio.Event()

    async def hang(request):
        started.set()
        await asyncio.sleep(3600)
        return "never"

    async with Sandbox(on_subcall=hang) as sandbox:
        task = asyncio.create_task(sandbox.run_cell("r = llm_query('q')"))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await sandbox.run_cell("print('alive')")).stdout == "alive\n"


async def test_batched_sub_calls_run_concurrently():
    running = 0
    peak = 0

    async def track(request):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        return "ok"

    async with Sandbox(on_subcall=track) as sandbox:
        result = await sandbox.run_cell("r = llm_query_batched(['q'] * 8)")
    assert result.subcalls == 8
    assert peak == 8


async def test_the_worker_runs_locked_down():
    async with Sandbox() as sandbox:
        assert {"restricted-python", "empty-environment", "no-file-writes"} <= set(
            sandbox.protections
        )


async def test_a_syntax_error_is_not_called_a_refusal(repl):
    # Markdown labelled a plain SyntaxError "Error (refused)", as if the sandbox had refused it.
    result = await run(repl, "print('unclosed'")
    assert result.error_kind == "syntax" and "SyntaxError" in (result.error or "")
    assert (await run(repl, "print('the next cell runs')")).error is None
