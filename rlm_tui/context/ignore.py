"""Ignore rules in gitignore syntax: `.gitignore`/`.rlmignore` files at every level of a tree,
and the `--include`/`--exclude` globs. Matching is pathspec's `GitIgnoreSpec`, never our own."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from pathspec import GitIgnoreSpec

log = logging.getLogger(__name__)


def compile_patterns(lines: Iterable[str]) -> GitIgnoreSpec:
    """Compile gitignore-style lines, dropping (and logging) any line pathspec rejects, as git
    itself ignores a bad pattern rather than the whole file."""
    lines = list(lines)
    try:
        return GitIgnoreSpec.from_lines(lines)
    except Exception:  # pathspec raises several types for a bad pattern
        good: list[str] = []
        for line in lines:
            try:
                GitIgnoreSpec.from_lines([line])
            except Exception:
                log.warning("ignoring a bad ignore pattern: %r", line)
            else:
                good.append(line)
        return GitIgnoreSpec.from_lines(good)


class IgnoreFiles:
    """The ignore files of one name (`.gitignore` or `.rlmignore`) in a tree, read lazily.

    As in git, a pattern is relative to the directory of the file that holds it, the deepest
    file with a matching pattern decides, and within a file the last matching pattern decides
    (so `!pattern` re-includes). A path inside an ignored directory is ignored: callers either
    prune ignored directories (the walk) or ask about every parent (`is_ignored`).
    """

    def __init__(self, root: Path, filename: str) -> None:
        self._root = root
        self._filename = filename
        self._specs: dict[str, GitIgnoreSpec | None] = {}
        # directory -> the (directory, spec) pairs that apply in it, deepest first
        self._chains: dict[str, tuple[tuple[str, GitIgnoreSpec], ...]] = {}
        self._dir_ignored: dict[str, bool] = {"": False}

    def note_absent(self, directory: str) -> None:
        """Tell that `directory` holds no ignore file (the walk knows), saving a failed open."""
        self._specs.setdefault(directory, None)

    def _spec(self, directory: str) -> GitIgnoreSpec | None:
        if directory not in self._specs:
            path = self._root / directory / self._filename
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                spec = None
            except OSError as exc:
                log.warning("cannot read %s: %s", path, exc)
                spec = None
            else:
                spec = compile_patterns(text.splitlines())
                spec = spec if len(spec) else None
            self._specs[directory] = spec
        return self._specs[directory]

    def _chain(self, directory: str) -> tuple[tuple[str, GitIgnoreSpec], ...]:
        chain = self._chains.get(directory)
        if chain is None:
            parent = directory.rpartition("/")[0] if directory else None
            inherited = self._chain(parent) if parent is not None else ()
            spec = self._spec(directory)
            chain = ((directory, spec), *inherited) if spec is not None else inherited
            self._chains[directory] = chain
        return chain

    def has_rules(self, directory: str) -> bool:
        """Whether any ignore file applies to the entries of `directory`."""
        return bool(self._chain(directory))

    def matches(self, path: str, is_dir: bool = False) -> bool:
        """Whether the patterns of the files above `path` ignore it (its parents unchecked)."""
        directory = path.rpartition("/")[0]
        for base, spec in self._chain(directory):
            relative = path[len(base) + 1 :] if base else path
            include = spec.check_file(relative + "/" if is_dir else relative).include
            if include is not None:
                return include
        return False

    def is_ignored(self, path: str) -> bool:
        """Whether the file at `path` is ignored, by its own name or any parent directory's."""
        directory = path.rpartition("/")[0]
        return self._is_dir_ignored(directory) or self.matches(path)

    def _is_dir_ignored(self, directory: str) -> bool:
        ignored = self._dir_ignored.get(directory)
        if ignored is None:
            parent = directory.rpartition("/")[0]
            ignored = self._is_dir_ignored(parent) or self.matches(directory, is_dir=True)
            self._dir_ignored[directory] = ignored
        return ignored


class PathFilter:
    """`--include` and `--exclude` globs (gitignore syntax, against the root-relative path):
    with includes, only matching files are kept; excludes drop files and whole directories."""

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        include, exclude = list(include), list(exclude)
        self._include = compile_patterns(include) if include else None
        self._exclude = compile_patterns(exclude) if exclude else None

    def excludes_dir(self, path: str) -> bool:
        return self._exclude is not None and self._exclude.match_file(path + "/")

    def excludes(self, path: str) -> bool:
        return self._exclude is not None and self._exclude.match_file(path)

    def includes(self, path: str) -> bool:
        return self._include is None or self._include.match_file(path)
