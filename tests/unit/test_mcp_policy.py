"""What an MCP client may ask of `rlm-tui mcp` (rlm_tui/mcp/policy.py): paths inside the
allowed roots after their symlinks are resolved, a configured model, budgets no higher than
the server's. Each refusal is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_tui.config import Settings
from rlm_tui.errors import InputError, UsageError
from rlm_tui.mcp.policy import PathRefused, ServerPolicy


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "repo" / "src").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "b.txt").write_text("b\n")
    (tmp_path / "repo" / "out").symlink_to(tmp_path / "other", target_is_directory=True)
    (tmp_path / "repo" / "in").symlink_to(tmp_path / "repo" / "src", target_is_directory=True)
    return tmp_path


def policy(tree: Path, *allow: str, **settings) -> ServerPolicy:
    return ServerPolicy.make(Settings(model="openai/root", **settings), allow,
                             base=tree / "repo")


def test_paths_inside_the_start_directory_resolve_and_others_are_refused(tree):
    p = policy(tree)
    assert p.roots == ((tree / "repo").resolve(),)
    assert p.resolve_paths(["src", "src/a.py", str(tree / "repo")]) == [
        (tree / "repo" / "src").resolve(), (tree / "repo" / "src" / "a.py").resolve(),
        (tree / "repo").resolve()]
    assert p.resolve_paths(["in"]) == [(tree / "repo" / "src").resolve()]  # a link inside
    for path in ("..", "../other", str(tree / "other"), "out", "out/b.txt", "src/../../other"):
        with pytest.raises(PathRefused) as refused:
            p.resolve_paths([path])
        assert "outside the allowed roots" in str(refused.value)
        assert "\n" not in str(refused.value)
    with pytest.raises(PathRefused, match=r"^out \(-> .*other\): outside the allowed roots"):
        p.resolve_path("out")


def test_allow_adds_roots_and_a_root_must_be_a_directory(tree):
    p = policy(tree, ".", str(tree / "other"))
    assert p.resolve_paths(["out/b.txt"]) == [(tree / "other" / "b.txt").resolve()]
    with pytest.raises(InputError, match="--allow nowhere: not a directory"):
        policy(tree, "nowhere")


@pytest.mark.parametrize("paths", [[], "", ["-"], [""], [3], ["a\x00b"], None])
def test_bad_paths_are_one_line_usage_errors(tree, paths):
    with pytest.raises(UsageError) as caught:
        policy(tree).resolve_paths(paths)
    assert "\n" not in str(caught.value)


def test_a_call_picks_a_configured_model_and_lowers_budgets_only(tree):
    p = policy(tree, sub_model="openai/sub", max_cost=1.0, max_iterations=10,
               models={"openai/other": {"temperature": 0.1}})
    assert p.models == ["openai/root", "openai/sub", "openai/other"]
    assert p.call_settings(model="openai/other", budgets={"max_cost": 0.5, "max_time": 60,
                                                          "max_iterations": None}) == {
        "model": "openai/other", "max_cost": 0.5, "max_time": 60}
    with pytest.raises(UsageError, match="model 'openai/gpt-5' is not one this server runs"):
        p.call_settings(model="openai/gpt-5")
    with pytest.raises(UsageError, match="max_cost 2 is over this server's 1"):
        p.call_settings(budgets={"max_cost": 2})
    with pytest.raises(UsageError, match="max_iterations 11 is over this server's 10"):
        p.call_settings(budgets={"max_iterations": 11})
    with pytest.raises(UsageError, match="api_base: not a budget a call may set"):
        p.call_settings(budgets={"api_base": "http://evil.example/v1"})
    with pytest.raises(UsageError, match="max_tokens: must be a positive number"):
        p.call_settings(budgets={"max_tokens": -1})
