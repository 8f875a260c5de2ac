"""The context as a directory tree: what the context browser shows, built off the UI thread.

Built once per workspace from the pack's entries and skipped files (50,000 files take about
0.2 s); the tree widget then adds nodes only for directories the user opens.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Filter matches shown at most; more would only slow the tree without helping anyone.
MAX_FILTER_MATCHES = 500


@dataclass(eq=False, slots=True)
class FileNode:
    """A file or directory of the context. Directories sum their loaded files' measures."""

    name: str
    path: str  # relative path in the pack; "" for the root
    is_dir: bool
    parent: FileNode | None = None
    size: int = 0  # bytes of text
    chars: int = 0
    lines: int = 0
    files: int = 0  # directories: loaded files beneath
    skipped_files: int = 0  # directories: skipped files beneath
    language: str = ""
    skipped: str | None = None  # why the file was left out (reason, then detail)
    children: dict[str, FileNode] = field(default_factory=dict)
    source: str | None = None  # a source of several (a top-level node): what it is

    def sorted_children(self) -> list[FileNode]:
        """Directories first, then files, each by name."""
        return sorted(self.children.values(), key=lambda n: (not n.is_dir, n.name.lower()))

    def ancestors(self) -> Iterable[FileNode]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


@dataclass(frozen=True, slots=True)
class CoverageFigures:
    """Bytes of a file or directory read by code and sent to sub-models."""

    size: int
    read: int
    sent: int

    @property
    def read_fraction(self) -> float:
        return self.read / self.size if self.size else 0.0

    @property
    def sent_fraction(self) -> float:
        return self.sent / self.size if self.size else 0.0


class FileIndex:
    """Every loaded and skipped file of a pack, as a tree with per-directory sums."""

    def __init__(self, name: str) -> None:
        self.root = FileNode(name=name, path="", is_dir=True)
        self.by_path: dict[str, FileNode] = {"": self.root}
        self.skipped_count = 0
        self.listed: int | None = None  # from a summary: the files known by name, of all
        self.skipped_listed: int | None = None  # from a summary: skipped files known by name
        self._files: list[tuple[str, FileNode]] = []  # (lower-case path, node), path order
        self.sources: list[FileNode] = []  # a context of several sources: their nodes

    @classmethod
    def from_pack(cls, pack: Any, name: str) -> FileIndex:
        """From a `ContextPack` (entries and skipped files)."""
        index = cls(name)
        for entry in pack.entries:
            index._add_measured(entry.path, entry.size, entry.chars, entry.lines,
                                entry.language)
        for item in pack.skipped:
            detail = f": {item.detail}" if item.detail else ""
            index._add_skipped(item.path, f"{item.reason}{detail}")
        index._mark_sources(source.to_dict() for source in pack.sources)
        index._sort()
        return index

    def _mark_sources(self, sources: Iterable[Mapping[str, Any]]) -> None:
        """Each source of several is a top-level directory: say what it is."""
        for source in sources:
            node = self.by_path.get(str(source.get("name")))
            if node is None:
                continue
            kind = str(source.get("kind", ""))
            if kind == "data":
                node.source = f"data: {source.get('type', '')}"
            else:
                node.source = kind
            self.sources.append(node)

    @classmethod
    def from_summary(cls, meta: Mapping[str, Any], name: str,
                     files_read: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> FileIndex | None:
        """From a transcript's context summary, for a replay (no pack on disk): the files it
        names (the largest, skipped examples) and those in `files_read` (coverage's per-file
        figures), under the summary's totals. None when it names no file (one text, or an
        rlms log, which records no file list)."""
        files: dict[str, tuple[int, int, int]] = {}  # path -> (bytes, chars, lines)
        for item in meta.get("largest_files") or []:
            chars = int(item.get("chars", 0) or 0)
            files[str(item["path"])] = (chars, chars, int(item.get("lines", 0) or 0))
        for path, figures in (files_read or {}).items():
            size = int(figures.get("bytes", 0) or 0)  # coverage's fractions are of bytes
            _, chars, lines = files.get(path, (size, size, int(figures.get("lines", 0) or 0)))
            files[path] = (size, chars, lines)
        if not files:
            return None
        index = cls(name)
        for path, (size, chars, lines) in sorted(files.items()):
            index._add_measured(path, size, chars, lines)
        skipped = meta.get("skipped") or {}
        for reason, group in skipped.items():
            for path in group.get("examples") or []:
                index._add_skipped(str(path), str(reason))
        index._mark_sources(item for item in meta.get("sources") or []
                            if isinstance(item, Mapping) and len(meta["sources"]) > 1)
        index._sort()
        root = index.root
        index.listed = root.files
        root.files = int(meta.get("files", root.files) or root.files)
        root.size = int(meta.get("bytes", root.size) or root.size)
        root.chars = int(meta.get("chars", root.chars) or root.chars)
        root.lines = int(meta.get("lines", root.lines) or root.lines)
        index.skipped_count = sum(int(g.get("count", 0) or 0) for g in skipped.values())
        index.skipped_listed = root.skipped_files  # a few examples per reason
        return index

    def _add_measured(self, path: str, size: int, chars: int, lines: int,
                      language: str = "") -> None:
        node = self._add_file(path)
        node.size, node.chars, node.lines, node.language = size, chars, lines, language
        for owner in node.ancestors():
            owner.size += size
            owner.chars += chars
            owner.lines += lines
            owner.files += 1

    def _add_skipped(self, path: str, why: str) -> None:
        if path in self.by_path:
            return
        node = self._add_file(path)
        node.skipped = why
        self.skipped_count += 1
        for owner in node.ancestors():
            owner.skipped_files += 1

    def _sort(self) -> None:
        self._files = sorted(((path.lower(), node) for path, node in self.by_path.items()
                              if not node.is_dir), key=lambda pair: pair[0])

    def _add_file(self, path: str) -> FileNode:
        parent = self.root
        parts = path.split("/")
        for depth, part in enumerate(parts[:-1]):
            child = parent.children.get(part)
            if child is None or not child.is_dir:
                dir_path = "/".join(parts[: depth + 1])
                child = FileNode(name=part, path=dir_path, is_dir=True, parent=parent)
                parent.children[part] = child
                self.by_path[dir_path] = child
            parent = child
        node = FileNode(name=parts[-1], path=path, is_dir=False, parent=parent)
        parent.children[parts[-1]] = node
        self.by_path[path] = node
        return node

    @property
    def file_count(self) -> int:
        return self.root.files

    def search(self, pattern: str, limit: int = MAX_FILTER_MATCHES) -> tuple[list[FileNode], int]:
        """Files whose path holds `pattern` (case-insensitive), or matches it as a glob when
        it has * ? or [. Returns up to `limit` matches in path order, and how many matched."""
        needle = pattern.strip().lower()
        if any(c in needle for c in "*?["):
            glob = needle if "/" in needle or needle.startswith("*") else "*" + needle

            def hit(path: str) -> bool:
                return fnmatch.fnmatchcase(path, glob) or fnmatch.fnmatchcase(
                    path.rsplit("/", 1)[-1], needle)
        else:

            def hit(path: str) -> bool:
                return needle in path

        found: list[FileNode] = []
        total = 0
        for path, node in self._files:
            if not hit(path):
                continue
            total += 1
            if len(found) < limit:
                found.append(node)
        return found, total

    def coverage(self, files: Mapping[str, Mapping[str, Any]]) -> dict[str, CoverageFigures]:
        """Per path (files and every directory above them), the bytes read and sent, from the
        `files` part of `Coverage.to_dict()`."""
        read: dict[str, int] = {}
        sent: dict[str, int] = {}
        for path, figures in files.items():
            node = self.by_path.get(path)
            if node is None:
                continue
            bytes_read = int(figures.get("bytes_read", 0) or 0)
            bytes_sent = int(figures.get("bytes_sent", 0) or 0)
            for owner in (node, *node.ancestors()):
                read[owner.path] = read.get(owner.path, 0) + bytes_read
                sent[owner.path] = sent.get(owner.path, 0) + bytes_sent
        return {path: CoverageFigures(self.by_path[path].size, read[path], sent[path])
                for path in read}
