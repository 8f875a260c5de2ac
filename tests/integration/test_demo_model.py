"""`--model demo`: the scripted offline model runs a real plan through the real engine."""

from rlm_tui import events as ev
from rlm_tui.config import Settings
from rlm_tui.engine import Run, RunContext
from rlm_tui.lm import ModelClient


async def test_the_demo_model_answers_from_the_context_through_sub_calls():
    bus = ev.EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    files = {
        "src/cache.py": "class LRUCache:\n    def evict(self):\n        '''Drop the oldest.'''\n",
        "README.md": "# tool\nThe cache evicts the least recently used entry.\n",
        "other.txt": "nothing relevant here\n",
    }
    run = Run(Settings(model="demo"), ModelClient(), bus)
    outcome = await run.start("How does the cache evict entries?", RunContext.from_value(files))
    assert outcome.status == "answered" and not outcome.forced
    assert "README.md" in outcome.answer and "src/cache.py" in outcome.answer
    assert "not an LLM" in outcome.answer
    errors = [e.error for e in seen if e.type == "cell_finished" and e.error]
    assert errors == []
    assert sum(1 for e in seen if e.type == "subcall_finished") == 2
    deltas = [e for e in seen if e.type == "root_delta"]
    assert len(deltas) > 10  # it streams
    assert all(e.text.startswith("[demo model") for e in seen if e.type == "root_done")


async def test_the_demo_model_works_on_a_plain_text_context():
    run = Run(Settings(model="demo"), ModelClient(), ev.EventBus())
    text = "alpha\nthe parser reads tokens\nomega\n"
    outcome = await run.start("What does the parser read?", RunContext.from_value(text))
    assert outcome.status == "answered"
    assert "parser reads tokens" in outcome.answer
