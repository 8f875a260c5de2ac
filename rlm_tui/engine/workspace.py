"""A workspace: a context loaded once, and what every run over it needs.

The headless `run` starts one run from it; the app starts one per query, all over the same
loaded context.

    with Workspace.open(".", settings) as ws:
        run = ws.new_run(bus)
        outcome = await run.start(query, ws.run_context())
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from rlm_tui.config import Settings
from rlm_tui.context.coverage import Coverage
from rlm_tui.context.loader import STDIN, LoadOptions
from rlm_tui.context.metadata import describe_context, render_context_summary
from rlm_tui.context.pack import ContextPack
from rlm_tui.context.sources import Source, as_sources, is_single_path, load_sources
from rlm_tui.engine.answer_schema import AnswerSchema
from rlm_tui.engine.run import Run
from rlm_tui.engine.run_context import RunContext
from rlm_tui.engine.tools import ToolSet
from rlm_tui.errors import UsageError
from rlm_tui.events import EventBus
from rlm_tui.lm import ModelClient, ModelSpec, check_model
from rlm_tui.lm.suggested import models_with_keys
from rlm_tui.sandbox import PackContext
from rlm_tui.scratch import make_scratch_dir


def model_specs(settings: Settings) -> list[ModelSpec]:
    """The root and sub model as configured; UsageError when no model is named."""
    s = settings
    if not s.model:
        raise UsageError("no model: pass --model NAME (e.g. openai/gpt-4o-mini), "
                         "or --model demo to try rlm-tui offline")
    specs = [ModelSpec(model=s.model, api_base=s.api_base, transport=s.transport)]
    sub = s.effective_sub_model
    if sub and (sub, s.effective_sub_api_base) != (s.model, s.api_base):
        specs.append(ModelSpec(model=sub, api_base=s.effective_sub_api_base,
                               transport=s.transport))
    return specs


def check_models(settings: Settings) -> None:
    """Offline checks before a run: a model is named, its provider known, its key set.
    Loads litellm (about 3 s) unless the model is the demo: from an event loop, use a thread."""
    for spec in model_specs(settings):
        check_model(spec)


def suggested_models() -> list[tuple[str, str]]:
    """Models to offer when none is set: (model, the key variable that is set) for each
    provider whose API key is in the environment (lm/suggested.py)."""
    return models_with_keys()


def cost_budget_warning(settings: Settings, client: ModelClient) -> str | None:
    """One line when --max-cost cannot hold because a model of the run has no price (a
    silent no-op otherwise); None when there is no cost budget or every model is priced.
    Call after check_models: it may read litellm's price map."""
    if not settings.max_cost:
        return None
    unpriced = [spec.model for spec in model_specs(settings) if not client.is_priced(spec)]
    if not unpriced:
        return None
    return (f"--max-cost {settings.max_cost:g} cannot be enforced: {', '.join(unpriced)} "
            "has no price (give it one in the config's [prices])")


async def warm_up_models(settings: Settings) -> bool:
    """Get the configured models' calls ready ahead of the first one: their transports
    decided and imported (aiohttp for OpenAI-compatible models, ~0.2 s; litellm, primed, for
    the others, ~3 s), in a thread; False, with nothing done, when every model is the
    offline demo."""
    import asyncio

    from rlm_tui.lm import prepare_models
    from rlm_tui.lm.demo import is_demo

    models = [settings.model, settings.effective_sub_model]
    if not any(m and not is_demo(m) for m in models):
        return False
    await asyncio.to_thread(prepare_models(model_specs(settings)).join)
    return True


class Workspace:
    """A loaded context (a pack in a private temporary directory) plus settings and client.

    The context is one path (`source`), or several sources (`sources`: each named, as the
    REPL names them: context_0, context_1, ... or the name given)."""

    def __init__(self, source: str, settings: Settings, pack: ContextPack, pack_dir: str,
                 client: ModelClient | None = None,
                 sources: Sequence[Source] | None = None, tools: ToolSet | None = None) -> None:
        self.source = source
        self.sources: tuple[Source, ...] = tuple(sources) if sources else (
            _sources_of(pack) or (Source(name="context_0", path=source),))
        self.tools = tools  # settings.tools loaded once, for every run over it
        self.settings = settings
        self.pack = pack
        self._pack_dir = pack_dir
        self.metadata: dict[str, Any] = describe_context(pack)
        self.metadata_text = render_context_summary(self.metadata)
        self.client = client or ModelClient(
            prices={m: p.per_million() for m, p in settings.prices.items()})
        self.coverage: Coverage | None = None

    @classmethod
    def open(cls, source: str | Sequence[str | Source], settings: Settings, *,
             stdin: BinaryIO | None = None, client: ModelClient | None = None,
             tools: ToolSet | None = None) -> Workspace:
        """Load `source`: one path (a directory, a file, or "-" for stdin), or a sequence of
        paths and `Source`s (sources.py: named, data, .json/.jsonl files as data), and the
        tools file the settings name. InputError or UsageError (one line) if one is unusable
        (the tools first: a broken file fails before the context is loaded or anything is
        written); `tools` given: those."""
        if tools is None and settings.tools:
            tools = ToolSet.from_file(settings.tools)
        sources = as_sources(source)
        pack_dir = make_scratch_dir("pack")
        try:
            pack = load_sources(sources, pack_dir, LoadOptions.from_settings(settings),
                                stdin=stdin)
        except BaseException:
            shutil.rmtree(pack_dir, ignore_errors=True)
            raise
        shown = source if isinstance(source, str) else ", ".join(s.describe() for s in sources)
        return cls(shown, settings, pack, pack_dir, client, sources, tools)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pack_dir(self) -> Path:
        return Path(self._pack_dir)

    def check_models(self) -> None:
        check_models(self.settings)

    def run_context(self) -> RunContext:
        """The context for a new run, with fresh coverage."""
        if self.coverage is not None:
            self.coverage.close()
        self.coverage = Coverage(self.pack)
        if self.pack.kind == "text":
            kind = "text"
        elif not self.pack.sources:
            kind = "mapping"
        elif len(self.pack.sources) > 1:
            kind = "sources"
        else:  # one source given as data: `context` is its value
            kind = "text" if self.pack.sources[0].type == "str" else "data"
        context = PackContext(str(self._pack_dir), names=(str(self.sources[0].name),))
        return RunContext(context, kind, self.metadata_text, self.context_summary(),
                          coverage=self.coverage)

    def context_summary(self) -> dict[str, Any]:
        """What a transcript header and session_started carry: metadata, never contents;
        `root` is a single path's absolute path, and `sources` each source's name, kind and
        absolute path ("-" for stdin, "data" for a value given in code), for a fork to load
        them again."""
        if not is_single_path(self.sources):  # the metadata names each source
            return {"source": self.source, **self.metadata}
        root = {} if self.source == STDIN else {"root": str(Path(self.source).resolve())}
        kind = "directory" if self.pack.kind == "files" else (
            "stdin" if self.source == STDIN else "file")
        recorded = {"name": self.sources[0].name, "kind": kind,
                    "path": root.get("root", STDIN)}
        return {"source": self.source, **root, **self.metadata, "sources": [recorded]}

    def new_run(self, bus: EventBus, *, start_paused: bool = False,
                settings: Settings | None = None, schema: AnswerSchema | None = None,
                tools: ToolSet | None = None) -> Run:
        """A run over this context; `settings`: a session's own (a fork's, switched models),
        else the workspace's; `schema`: the shape its answers must have (else the settings'
        schema file's, if one is named); `tools`: the run's host functions, else the
        workspace's (those its settings' tools file holds)."""
        settings = settings or self.settings
        if tools is None and settings.tools == self.settings.tools:
            tools = self.tools
        return Run(settings, self.client, bus, start_paused=start_paused, schema=schema,
                   tools=tools)

    def close(self) -> None:
        if self.coverage is not None:
            self.coverage.close()
            self.coverage = None
        shutil.rmtree(self._pack_dir, ignore_errors=True)


def _sources_of(pack: ContextPack) -> tuple[Source, ...]:
    """The sources a pack of several was loaded from (a pack opened again elsewhere: Ray)."""
    return tuple(Source(name=s.name, data=None) if s.origin == "data" else
                 Source(name=s.name, path=s.origin, as_data=s.as_data) for s in pack.sources)
