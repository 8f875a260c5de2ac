"""Which files of a directory make up its context, before any file is opened.

Inside a git work tree git lists them (tracked files plus untracked files that are not
ignored); elsewhere, or when the directory itself is git-ignored, a walk does, honouring
`.gitignore` files at every level. Both then apply `.rlmignore` files (same syntax, every
level) and the `--include`/`--exclude` globs. `.git` is never listed.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rlm_tui.context.skips import SkippedFile, SkipReason

# ignore.py (and pathspec with it) is imported by the functions that list: the load helper
# (parallel.py) needs only FileListing from here, and starts sooner without pathspec.
if TYPE_CHECKING:
    from rlm_tui.context.ignore import PathFilter

ListingMode = Literal["git", "walk"]

GITIGNORE = ".gitignore"
RLMIGNORE = ".rlmignore"

# Counted, not listed: an ignored directory counts once, as git reports it.
IGNORED_BY_GIT = "gitignore"
IGNORED_BY_RLMIGNORE = "rlmignore"
IGNORED_BY_EXCLUDE = "--exclude"
IGNORED_BY_INCLUDE = "not --include"


@dataclass
class FileListing:
    """The candidate files of a directory (relative posix paths, sorted), with what was left out
    while listing: skipped entries (unreadable directories) and counts of ignored entries.

    `regular` holds the files that the walk saw as regular files (not symlinks, not special
    files), which the loader may open without a stat of its own first; git mode leaves it
    empty."""

    root: Path
    mode: ListingMode
    files: list[str]
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    regular: set[str] = field(default_factory=set)


# The repository's own config must not run anything: core.fsmonitor names a program that
# git runs to list changed files, from `check-ignore` and `ls-files` too (seen: a repository
# shipped with its .git set it to a script, which ran).
_SAFE_CONFIG = ("-c", "core.fsmonitor=false")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    # Variables such as GIT_DIR would point git somewhere other than the directory asked for.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        return subprocess.run(
            ["git", *_SAFE_CONFIG, "-C", str(root), *args],
            capture_output=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no git, or it hung: the walk does the job


def _in_git_work_tree(root: Path) -> bool:
    probe = _git(root, "rev-parse", "--is-inside-work-tree")
    if probe is None or probe.returncode != 0 or probe.stdout.strip() != b"true":
        return False
    # A directory that git ignores (a venv inside a repo) lists nothing through git; the user
    # asked for it explicitly, so walk it instead.
    ignored = _git(root, "check-ignore", "-q", ".")
    return ignored is None or ignored.returncode != 0


def _split_z(output: bytes) -> list[str]:
    return [os.fsdecode(item) for item in output.split(b"\0") if item]


def _list_git(root: Path, path_filter: PathFilter) -> FileListing | None:
    from rlm_tui.context.ignore import IgnoreFiles

    listed = _git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    if listed is None or listed.returncode != 0:
        return None
    ignored_entries = _git(
        root, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"
    )
    listing = FileListing(root=root, mode="git", files=[])
    if ignored_entries is not None and ignored_entries.returncode == 0:
        listing.ignored[IGNORED_BY_GIT] = len(_split_z(ignored_entries.stdout))
    rlmignore = IgnoreFiles(root, RLMIGNORE)
    # A conflicted file is listed once per stage; a nested repository as "dir/".
    for path in sorted({p.rstrip("/") for p in _split_z(listed.stdout)}):
        if rlmignore.is_ignored(path):
            listing.ignored[IGNORED_BY_RLMIGNORE] += 1
        elif path_filter.excludes(path):
            listing.ignored[IGNORED_BY_EXCLUDE] += 1
        elif not path_filter.includes(path):
            listing.ignored[IGNORED_BY_INCLUDE] += 1
        else:
            listing.files.append(path)
    return listing


def _list_walk(root: Path, path_filter: PathFilter) -> FileListing:
    from rlm_tui.context.ignore import IgnoreFiles

    listing = FileListing(root=root, mode="walk", files=[])
    gitignore = IgnoreFiles(root, GITIGNORE)
    rlmignore = IgnoreFiles(root, RLMIGNORE)
    root_text = str(root)
    pending = [""]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(f"{root_text}/{directory}" if directory else root_text) as entries:
                # The types come with the directory entries: no stat per file.
                children = [
                    (e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
                    for e in entries
                ]
        except OSError as exc:
            shown = (directory or ".") + "/"
            listing.skipped.append(
                SkippedFile(shown, SkipReason.UNREADABLE, exc.strerror or str(exc))
            )
            continue
        names = {name for name, _, _ in children}
        if GITIGNORE not in names:
            gitignore.note_absent(directory)
        if RLMIGNORE not in names:
            rlmignore.note_absent(directory)
        # Most directories have no ignore file above them: no matching per entry there.
        git_rules = gitignore.has_rules(directory)
        rlm_rules = rlmignore.has_rules(directory)
        for name, is_dir, is_regular in children:
            if name == ".git":
                continue
            path = f"{directory}/{name}" if directory else name
            if git_rules and gitignore.matches(path, is_dir):
                listing.ignored[IGNORED_BY_GIT] += 1
            elif rlm_rules and rlmignore.matches(path, is_dir):
                listing.ignored[IGNORED_BY_RLMIGNORE] += 1
            elif path_filter.excludes_dir(path) if is_dir else path_filter.excludes(path):
                listing.ignored[IGNORED_BY_EXCLUDE] += 1
            elif is_dir:
                pending.append(path)
            elif not path_filter.includes(path):
                listing.ignored[IGNORED_BY_INCLUDE] += 1
            else:
                listing.files.append(path)
                if is_regular:
                    listing.regular.add(path)
    listing.files.sort()
    return listing


def list_files(
    root: Path, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> FileListing:
    """List the candidate files under the directory `root` (already resolved), in path order.

    Nothing is opened but ignore files; symlinks and special files are listed like files and
    judged when read.
    """
    from rlm_tui.context.ignore import PathFilter

    path_filter = PathFilter(include, exclude)
    if _in_git_work_tree(root):
        listing = _list_git(root, path_filter)
        if listing is not None:
            return listing
    return _list_walk(root, path_filter)

