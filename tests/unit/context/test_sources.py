"""Several sources as one context: real directories, files and data, loaded into one pack and
read by a real worker (context_0, context_1, ... and `context` across them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlm_tui.config import Settings
from rlm_tui.context.coverage import Coverage
from rlm_tui.context.loader import LoadOptions
from rlm_tui.context.metadata import describe_context, render_context_summary
from rlm_tui.context.pack import ContextPack
from rlm_tui.context.sources import Source, as_sources, load_sources
from rlm_tui.engine.workspace import Workspace
from rlm_tui.errors import InputError, UsageError
from rlm_tui.sandbox import Sandbox

from .conftest import write

OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"


@pytest.fixture
def two_repos(tmp_path: Path) -> tuple[Path, Path]:
    sdk, platform = tmp_path / "sdk", tmp_path / "platform"
    write(sdk, {"src/client.py": "def get():\n    return call('/v1/users')\n",
                "README.md": "# sdk\n"})
    write(platform, {"api/routes.py": "ROUTES = ['/v1/users', '/v1/teams']\n"})
    return sdk, platform


def load(tmp_path: Path, given, **options) -> ContextPack:
    return load_sources(as_sources(given), tmp_path / "pack", LoadOptions(**options))


async def cell(workspace: Workspace, code: str):
    context = workspace.run_context()
    async with Sandbox(context.value) as sandbox:
        result = await sandbox.run_cell(code)
    assert result.error is None, (result.error, result.stderr)
    return result


def test_unnamed_sources_are_numbered_in_the_order_given(tmp_path, two_repos):
    sdk, platform = two_repos
    sources = as_sources([str(platform), str(sdk)])
    assert [s.name for s in sources] == ["context_0", "context_1"]
    named = as_sources({"sdk": str(sdk), "platform": Source(path=str(platform)),
                        "issues": [{"id": 1}]})
    assert [(s.name, s.path) for s in named] == [
        ("sdk", str(sdk)), ("platform", str(platform)), ("issues", None)]
    assert named[2].data == [{"id": 1}] and as_sources([str(sdk), {"a": 1}])[1].is_data


@pytest.mark.parametrize(("given", "message"), [
    (["a", Source("2x", "b")], "'2x' is not a Python identifier"),
    ([Source("x", "a"), Source("x", "b")], "'x' is given twice"),
    ([Source("context_1", "a"), "b"], "'context_1' is given twice"),
    ([Source("llm_query", "a")], "hide the REPL's own llm_query"),
    ([Source("print", "a")], "hide the REPL's own print"),
    ([Source("_x", "a")], "not a Python identifier"),
    (["-", "-"], "stdin (-) can be read only once"),
    ([Source("x", data=[1], path="a")], "a path or data, exactly one"),
])
def test_bad_names_and_sources_are_one_line(given, message):
    with pytest.raises(UsageError) as caught:
        as_sources(given)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_one_plain_path_is_the_pack_it_always_was(tmp_path, two_repos):
    sdk, _ = two_repos
    pack = load(tmp_path, [str(sdk)])
    assert pack.sources == () and pack.mode == "walk"
    assert [e.path for e in pack.entries] == ["README.md", "src/client.py"]


def test_two_directories_are_one_pack_with_paths_under_each_name(tmp_path, two_repos):
    sdk, platform = two_repos
    pack = load(tmp_path, {"sdk": str(sdk), "platform": str(platform)})
    assert [e.path for e in pack.entries] == [
        "platform/api/routes.py", "sdk/README.md", "sdk/src/client.py"]
    assert [(s.name, s.kind, s.first, s.count) for s in pack.sources] == [
        ("sdk", "directory", 1, 2), ("platform", "directory", 0, 1)]
    assert pack.read_text("sdk/src/client.py").startswith("def get()")
    reopened = ContextPack.open(pack.directory)
    assert reopened.sources == pack.sources


def test_a_missing_second_path_is_one_line_naming_it(tmp_path, two_repos):
    sdk, _ = two_repos
    with pytest.raises(InputError) as caught:
        load(tmp_path, [str(sdk), str(tmp_path / "nowhere")])
    assert str(caught.value) == f"{tmp_path / 'nowhere'}: no such file or directory"
    assert not (tmp_path / "pack" / "context.blob").exists()  # nothing half-written is kept


def test_a_broken_jsonl_file_is_one_line_with_file_and_line(tmp_path):
    broken = tmp_path / "issues.jsonl"
    broken.write_text('{"id": 1}\n\n{"id": 2,\n{"id": 3}\n')
    with pytest.raises(InputError) as caught:
        load(tmp_path, [Source("issues", str(broken), as_data=True)])
    assert str(caught.value).startswith(f"{broken}: line 3: not valid JSON (")
    bad_json = tmp_path / "config.json"
    bad_json.write_text('{\n  "a": 1,\n  "b": \n}\n')
    with pytest.raises(InputError, match=r"config\.json: line 4: not valid JSON"):
        load(tmp_path, [Source("cfg", str(bad_json), as_data=True)])


def test_as_data_needs_a_json_file(tmp_path, two_repos):
    sdk, _ = two_repos
    with pytest.raises(UsageError, match="as_data reads .json or .jsonl files only"):
        load(tmp_path, [Source("x", str(sdk / "README.md"), as_data=True)])
    with pytest.raises(UsageError, match="is a directory"):
        load(tmp_path, [Source("x", str(sdk), as_data=True)])


def test_data_that_is_not_json_is_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"data 'x' is not JSON data: a set is not JSON data"):
        load(tmp_path, [Source("x", data={"a": {1, 2}})])


def test_secrets_are_masked_in_every_string_of_data(tmp_path):
    data = [{"user": "ann", "password": "hunter2-Correct-Horse"},
            {"nested": {"keys": [f"token {OPENAI_KEY}"]}, OPENAI_KEY: "as a key"}]
    pack = load(tmp_path, [Source("records", data=data)])
    text = pack.read_text("records/data.json")
    assert OPENAI_KEY not in text and "hunter2-Correct-Horse" not in text
    value = json.loads(text)
    assert value[0]["password"] == "[REDACTED:password]"
    assert value[1]["nested"]["keys"] == ["token [REDACTED:openai-key]"]
    assert "[REDACTED:openai-key]" in value[1]
    assert pack.entries[0].secrets_masked >= 3
    unmasked = load(tmp_path / "2", [Source("records", data=data)], include_secrets=True)
    assert OPENAI_KEY in unmasked.read_text("records/data.json")


def test_the_metadata_describes_each_source_by_name(tmp_path, two_repos):
    sdk, platform = two_repos
    issues = tmp_path / "issues.jsonl"
    issues.write_text('{"id": 1, "title": "a"}\n{"id": 2, "title": "b"}\n')
    pack = load(tmp_path, [str(sdk), Source("platform", str(platform)),
                           Source("issues", str(issues), as_data=True)])
    meta = describe_context(pack)
    text = render_context_summary(meta)
    assert text.startswith("Context: 3 sources, each its own variable in the REPL:")
    assert "- `context_0`: directory 'sdk', a read-only mapping of 2 files" in text
    assert "- `platform`: directory 'platform'" in text
    assert ("- `issues`: read-only JSON data read from issues.jsonl, a list of 2 dicts "
            "(keys: id, title)") in text
    assert "context_0/…, platform/…, issues/data.json" in text
    assert [s["path"] for s in meta["sources"]] == [str(sdk), str(platform), str(issues)]


def test_coverage_is_kept_per_source(tmp_path, two_repos):
    sdk, platform = two_repos
    pack = load(tmp_path, {"sdk": str(sdk), "platform": str(platform)})
    coverage = Coverage(pack)
    coverage.add_worker_delta({"read": {"sdk/src/client.py": [[1, 2]]}})
    figures = coverage.to_dict()
    assert figures["sources"]["sdk"]["lines_read"] == 2
    assert figures["sources"]["sdk"]["files"] == 2
    assert figures["sources"]["platform"]["lines_read"] == 0
    assert figures["totals"]["lines_read"] == 2


async def test_two_directories_read_from_one_cell(tmp_path, two_repos):
    sdk, platform = two_repos
    with Workspace.open([str(sdk), str(platform)], Settings()) as workspace:
        result = await cell(workspace, (
            "print(sorted(context_0.files), context_1.files)\n"
            "print(context_0['src/client.py'].splitlines()[1].strip())\n"
            "print(context.files)\n"
            "print([m['path'] for m in context.grep('/v1/users')])\n"))
        coverage = workspace.coverage
    lines = result.stdout.splitlines()
    assert lines[0] == "['README.md', 'src/client.py'] ['api/routes.py']"
    assert lines[1] == "return call('/v1/users')"
    assert lines[2] == ("['context_0/README.md', 'context_0/src/client.py', "
                        "'context_1/api/routes.py']")
    assert lines[3] == "['context_0/src/client.py', 'context_1/api/routes.py']"
    assert coverage is not None
    coverage.add_worker_delta(result.coverage)
    read = coverage.to_dict()["files"]
    assert set(read) == {"context_0/src/client.py", "context_1/api/routes.py"}


async def test_a_directory_and_a_file(tmp_path, two_repos):
    sdk, _ = two_repos
    log = tmp_path / "notes.log"
    log.write_text("first line\nsecond line\n")
    with Workspace.open([str(sdk), Source("notes", str(log))], Settings()) as workspace:
        result = await cell(workspace, "print(isinstance(notes, str), notes.splitlines()[1])\n"
                                       "print(context['notes/notes.log'] == notes)")
        summary = workspace.context_summary()
    assert result.stdout == "True second line\nTrue\n"
    assert [(s["name"], s["kind"], s["path"]) for s in summary["sources"]] == [
        ("context_0", "directory", str(sdk)), ("notes", "file", str(log))]


async def test_a_list_of_dicts_given_as_data_is_a_read_only_list(tmp_path):
    records = [{"id": 1, "tags": ["a"]}, {"id": 2, "tags": []}]
    code = """\
import json
print(isinstance(records, list), isinstance(records[0], dict), records == context)
print(records[1]['id'], len(records), json.dumps(records))
refused = 0
for change in (lambda: records.append(3), lambda: records[0].update(x=1),
               lambda: records[0]['tags'].append('b'), lambda: records.sort()):
    try:
        change()
    except TypeError:
        refused += 1
mine = list(records)
mine.append(3)
print(refused, len(mine), len(records))
"""
    with Workspace.open([Source("records", data=records)], Settings()) as workspace:
        result = await cell(workspace, code)
    assert result.stdout == ('True True True\n2 2 [{"id": 1, "tags": ["a"]}, {"id": 2, '
                             '"tags": []}]\n4 3 2\n')


async def test_a_jsonl_file_as_data_beside_a_directory(tmp_path, two_repos):
    sdk, _ = two_repos
    issues = tmp_path / "issues.jsonl"
    issues.write_text('{"id": 7, "body": "crash in get()"}\n{"id": 8, "body": "ok"}\n')
    sources = [Source("sdk", str(sdk)), Source("issues", str(issues), as_data=True)]
    with Workspace.open(sources, Settings()) as workspace:
        result = await cell(workspace, (
            "print(isinstance(issues, list), [i['id'] for i in issues])\n"
            "print(sorted(context.files))\n"))
    assert result.stdout.splitlines() == [
        "True [7, 8]", "['issues/data.json', 'sdk/README.md', 'sdk/src/client.py']"]


async def test_context_0_is_another_name_of_a_single_context(tmp_path, two_repos):
    sdk, _ = two_repos
    with Workspace.open(str(sdk), Settings()) as workspace:
        result = await cell(workspace, "print(context_0 is context, context_0.files)")
        assert "sources" in workspace.context_summary()
    assert result.stdout == "True ['README.md', 'src/client.py']\n"
    with Workspace.open([Source("repo", str(sdk))], Settings()) as workspace:
        result = await cell(workspace, "print(repo is context, len(repo))")
    assert result.stdout == "True 2\n"
