"""Which files a directory contributes: git mode, walk mode, ignore files and filters."""

from __future__ import annotations

from pathlib import Path

from .conftest import git, write


def paths(pack) -> list[str]:
    return [entry.path for entry in pack.entries]


def test_git_mode_lists_tracked_and_untracked_but_not_ignored(git_repo, load):
    root = git_repo(
        {
            ".gitignore": "*.log\nbuild/\n",
            "src/app.py": "print('app')\n",
            "README.md": "# readme\n",
            "notes.txt": "untracked, not ignored\n",
            "debug.log": "ignored\n",
            "build/out.txt": "ignored directory\n",
            "forced.log": "tracked although it matches *.log\n",
        },
        tracked=[".gitignore", "src/app.py", "README.md", "forced.log"],
    )
    pack = load(root)
    assert pack.mode == "git"
    assert paths(pack) == [".gitignore", "README.md", "forced.log", "notes.txt", "src/app.py"]
    assert pack.ignored["gitignore"] == 2  # debug.log and build/ (a directory counts once)


def test_git_mode_in_a_subdirectory_lists_only_that_subtree_relative_to_it(git_repo, load):
    root = git_repo(
        {
            ".gitignore": "secret-ish/\n",
            "top.py": "x = 1\n",
            "pkg/mod.py": "y = 2\n",
            "pkg/sub/deep.py": "z = 3\n",
            "pkg/secret-ish/hidden.py": "ignored by the root .gitignore\n",
            "pkg/new.py": "untracked\n",
        },
        tracked=[".gitignore", "top.py", "pkg/mod.py", "pkg/sub/deep.py"],
    )
    pack = load(root / "pkg")
    assert pack.mode == "git"
    assert paths(pack) == ["mod.py", "new.py", "sub/deep.py"]


def test_a_repositorys_own_git_config_runs_nothing(git_repo, load, tmp_path: Path):
    # core.fsmonitor names a program git runs to learn what changed, from ls-files and
    # check-ignore too: a repository shipped with its .git can set it.
    marker = tmp_path / "ran"
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    root = git_repo({"a.py": "x = 1\n", "new.txt": "untracked\n"}, tracked=["a.py"])
    git(root, "config", "core.fsmonitor", str(hook))
    pack = load(root)
    assert pack.mode == "git" and paths(pack) == ["a.py", "new.txt"]
    assert not marker.exists()


def test_a_git_ignored_directory_is_walked_instead(git_repo, load):
    root = git_repo(
        {".gitignore": "venv/\n", "a.py": "a\n", "venv/lib/site.py": "s\n", "venv/x.txt": "x\n"},
        tracked=[".gitignore", "a.py"],
    )
    pack = load(root / "venv")
    assert pack.mode == "walk"
    assert paths(pack) == ["lib/site.py", "x.txt"]


def test_walk_mode_honours_nested_gitignore_relative_to_its_directory(tmp_path: Path, load):
    write(
        tmp_path,
        {
            ".gitignore": "*.tmp\n",
            "keep.txt": "k\n",
            "drop.tmp": "d\n",
            # "/only-here.txt" is anchored to sub/, so the root file of that name stays.
            "only-here.txt": "root copy stays\n",
            "sub/.gitignore": "/only-here.txt\ngenerated/\n*.txt\n!important.txt\n",
            "sub/only-here.txt": "ignored\n",
            "sub/other.txt": "ignored by *.txt in sub/.gitignore\n",
            "sub/important.txt": "re-included by negation\n",
            "sub/code.py": "kept\n",
            "sub/generated/x.py": "ignored directory\n",
            "sub/deeper/more.txt": "ignored: sub's *.txt applies below sub\n",
            "sub/deeper/.gitignore": "!more.txt\n",
            "other/readme.txt": "kept: sub's patterns do not apply here\n",
        },
    )
    pack = load(tmp_path)
    assert pack.mode == "walk"
    assert paths(pack) == [
        ".gitignore",
        "keep.txt",
        "only-here.txt",
        "other/readme.txt",
        "sub/.gitignore",
        "sub/code.py",
        "sub/deeper/.gitignore",
        "sub/deeper/more.txt",  # the deeper .gitignore re-includes it
        "sub/important.txt",
    ]
    assert pack.ignored["gitignore"] == 4  # drop.tmp, sub/only-here.txt, other.txt, generated/


def test_files_inside_an_ignored_directory_cannot_be_re_included(tmp_path: Path, load):
    write(
        tmp_path,
        {".gitignore": "logs/\n!logs/keep.txt\n", "logs/keep.txt": "k\n", "a.txt": "a\n"},
    )
    assert paths(load(tmp_path)) == [".gitignore", "a.txt"]


def test_git_directory_is_always_skipped_in_walk_mode(tmp_path: Path, load):
    write(tmp_path, {"a.txt": "a\n", ".git/config": "[core]\n", "nested/.git": "gitdir: x\n"})
    write(tmp_path, {"nested/b.txt": "b\n"})
    assert paths(load(tmp_path)) == ["a.txt", "nested/b.txt"]


def test_rlmignore_applies_in_walk_mode_at_every_level(tmp_path: Path, load):
    write(
        tmp_path,
        {
            ".rlmignore": "docs/\n*.csv\n",
            "a.py": "a\n",
            "data.csv": "1,2\n",
            "docs/guide.md": "g\n",
            "pkg/.rlmignore": "fixtures/\n!keep.csv\n",
            "pkg/fixtures/big.json": "{}\n",
            "pkg/keep.csv": "kept by negation in pkg/.rlmignore\n",
            "pkg/mod.py": "m\n",
        },
    )
    pack = load(tmp_path)
    assert paths(pack) == [".rlmignore", "a.py", "pkg/.rlmignore", "pkg/keep.csv", "pkg/mod.py"]
    assert pack.ignored["rlmignore"] == 3


def test_rlmignore_applies_in_git_mode_too(git_repo, load):
    root = git_repo(
        {
            ".rlmignore": "vendor/\n",
            "a.py": "a\n",
            "vendor/lib.py": "v\n",
            "pkg/.rlmignore": "*.gen.py\n",
            "pkg/x.gen.py": "generated\n",
            "pkg/x.py": "x\n",
        },
        tracked=["a.py", "vendor/lib.py", "pkg/x.gen.py", "pkg/x.py"],
    )
    pack = load(root)
    assert pack.mode == "git"
    assert paths(pack) == [".rlmignore", "a.py", "pkg/.rlmignore", "pkg/x.py"]
    assert pack.ignored["rlmignore"] == 2


def test_include_keeps_only_matching_files_and_exclude_drops(tmp_path: Path, load):
    write(
        tmp_path,
        {
            "src/a.py": "a\n",
            "src/b.js": "b\n",
            "src/gen/c.py": "c\n",
            "tests/test_a.py": "t\n",
            "README.md": "r\n",
        },
    )
    pack = load(tmp_path, include=("*.py",), exclude=("tests/", "src/gen/"))
    assert paths(pack) == ["src/a.py"]
    assert pack.ignored["not --include"] == 2
    assert pack.ignored["--exclude"] == 2


def test_include_and_exclude_apply_in_git_mode(git_repo, load):
    root = git_repo(
        {"a.py": "a\n", "b.md": "b\n", "docs/c.py": "c\n"}, tracked=["a.py", "b.md", "docs/c.py"]
    )
    pack = load(root, include=("*.py",), exclude=("docs/",))
    assert paths(pack) == ["a.py"]


def test_git_mode_lists_a_nested_repository_as_skipped(git_repo, load):
    root = git_repo({"a.py": "a\n"}, tracked=["a.py"])
    nested = root / "nested"
    nested.mkdir()
    git(nested, "init", "-q")
    write(nested, {"n.py": "n\n"})
    pack = load(root)
    assert paths(pack) == ["a.py"]
    assert [(s.path, str(s.reason)) for s in pack.skipped] == [("nested", "submodule")]
