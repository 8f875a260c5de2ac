"""Data given as a context source is read-only lists and dicts (ReadOnlyList, ReadOnlyDict):
every way model code might change them, or reach something through them, is refused.

Each attack runs in a real worker over a real pack of several sources (a directory, data,
a .jsonl file as data). An attack passes when it fails: the data is unchanged afterwards and
nothing outside the sandbox was reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from rlm_tui.config import Settings
from rlm_tui.context.sources import Source
from rlm_tui.engine.workspace import Workspace
from rlm_tui.sandbox import Sandbox
from tests.security.conftest import (
    ATTACK_LIMITS,
    MARKER,
    assert_attack_failed,
    assert_next_cell_runs,
    everything_shown,
    run,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

RECORDS = [{"id": 1, "tags": ["a", "b"], "meta": {"k": "v"}}, {"id": 2, "tags": []}]
UNCHANGED = ("print(records == [{'id': 1, 'tags': ['a', 'b'], 'meta': {'k': 'v'}}, "
             "{'id': 2, 'tags': []}], config == {'depth': 3, 'names': ['x']}, "
             "context['records/data.json'].count('\"id\"'))")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def data_sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sandbox]:
    root = tmp_path_factory.mktemp("sources")
    (root / "repo").mkdir()
    (root / "repo" / "a.py").write_text("print('a')\n")
    (root / "config.json").write_text('{"depth": 3, "names": ["x"]}')
    sources = [Source("repo", str(root / "repo")), Source("records", data=RECORDS),
               Source("config", str(root / "config.json"), as_data=True)]
    with Workspace.open(sources, Settings()) as workspace:
        async with Sandbox(workspace.run_context().value, limits=ATTACK_LIMITS) as sandbox:
            yield sandbox


async def assert_data_unchanged(sandbox: Sandbox) -> None:
    result = await run(sandbox, UNCHANGED)
    assert result.error is None, result.for_model()
    assert result.stdout == "True True 2\n", everything_shown(result)


MUTATIONS = [
    "records.append({'id': 3})",
    "records[0] = None",
    "del records[0]",
    "records += [1]",
    "records *= 2",
    "records.extend([1])",
    "records.insert(0, 1)",
    "records.pop()",
    "records.remove(records[0])",
    "records.clear()",
    "records.sort(key=lambda r: -r['id'])",
    "records.reverse()",
    "records[0:1] = []",
    "records[0]['id'] = 99",
    "records[0]['id'] += 1",
    "del records[0]['id']",
    "records[0].update(id=99)",
    "records[0].setdefault('new', 1)",
    "records[0].pop('id')",
    "records[0].popitem()",
    "records[0].clear()",
    "records[0] |= {'id': 99}",
    "records[0]['tags'].append('c')",
    "records[0]['meta']['k'] = 'changed'",
    "config['depth'] = 0",
    "config['names'].append('y')",
    # The base types' own methods, unbound or through super(), bypass any override.
    "list.append(records, 3)",
    "list.clear(records)",
    "list.__setitem__(records, 0, 1)",
    "dict.update(records[0], id=99)",
    "dict.clear(config)",
    "f = getattr(list, 'append')\nf(records, 3)",
    "list(map(list.append, [records], [3]))",
    "super(type(records), records).append(3)",
    "super(type(config), config).update(depth=0)",
    "super(type(config), config).__setitem__('depth', 0)",
    # C functions that change a list through the C API, past its methods.
    "import heapq\nheapq.heappush(records, {'id': 0})",
    "import heapq\nheapq.heapify(records[0]['tags'])",
    "import heapq\nheapq.heappop(records)",
    "import operator\noperator.setitem(records, 0, 1)",
    "import operator\noperator.iadd(records, [1])",
    "import operator\noperator.delitem(config, 'depth')",
    "import bisect\nbisect.insort(records[0]['tags'], 'aa')",
    "import random\nrandom.shuffle(records)",
    "import collections.abc\ncollections.abc.MutableMapping.update(config, depth=0)",
    "import collections.abc\ncollections.abc.MutableSequence.append(records, 1)",
    "type(records).append(records, 3)",
    "setattr(records, 'x', 1)",
    "records.x = 1",
]


@pytest.mark.parametrize("attack", MUTATIONS)
async def test_data_cannot_be_changed(data_sandbox: Sandbox, attack: str):
    result = await run(data_sandbox, attack + f"\nprint({MARKER!r})")
    assert_attack_failed(result)
    await assert_data_unchanged(data_sandbox)
    await assert_next_cell_runs(data_sandbox)


REACHES = [
    "records.append.__func__",
    "records.append.__globals__",
    "type(records).__mro__",
    "type(records).__bases__",
    "type(records).__dict__",
    "records.__class__",
    "records.__reduce_ex__(2)",
    "getattr(records, '_refuse')",
    "getattr(type(records), 'append').__globals__",
    "import copy\ncopy.copy(records).__class__",
    "list.append.__objclass__",
    "vars(records)",
]


@pytest.mark.parametrize("attack", REACHES)
async def test_nothing_is_reached_through_data(data_sandbox: Sandbox, attack: str):
    result = await run(data_sandbox, attack + f"\nprint({MARKER!r})")
    assert_attack_failed(result)
    await assert_data_unchanged(data_sandbox)


async def test_copies_are_ordinary_and_changeable(data_sandbox: Sandbox):
    result = await run(data_sandbox, (
        "import copy\n"
        "mine = [list(records), dict(config), copy.copy(records), copy.deepcopy(records),\n"
        "        records[:1], records + [], config | {}, config.copy()]\n"
        "print([type(x) in (list, dict) for x in mine])\n"
        "deep = copy.deepcopy(records)\n"
        "deep[0]['tags'].append('c')\n"
        "print(type(deep[0]) is dict, deep[0]['tags'])\n"))
    assert result.error is None, result.for_model()
    assert result.stdout == "[True, True, True, True, True, True, True, True]\n" \
                            "True ['a', 'b', 'c']\n"
    await assert_data_unchanged(data_sandbox)


async def test_the_files_of_the_pack_stay_read_only(data_sandbox: Sandbox, tmp_path: Path):
    result = await run(data_sandbox, "context['records/data.json'] = '[]'")
    assert_attack_failed(result)
    result = await run(data_sandbox, "repo['a.py'] = 'x'")
    assert_attack_failed(result)
    await assert_data_unchanged(data_sandbox)
