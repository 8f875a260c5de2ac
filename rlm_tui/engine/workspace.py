"""A workspace: a context loaded once, and what every run over it needs.

The headless `run` starts one run from it; the app starts one per query, all over the same
loaded context.

    with Workspace.open(".", settings) as ws:
        run = ws.new_run(bus)
        outcome = await run.start(query, ws.run_context())
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, BinaryIO

from rlm_tui.config import Settings
from rlm_tui.context.coverage import Coverage
from rlm_tui.context.loader import LoadOptions, load_context
from rlm_tui.context.metadata import describe_context, render_context_summary
from rlm_tui.context.pack import ContextPack
from rlm_tui.engine.run import Run
from rlm_tui.engine.run_context import RunContext
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
    """A loaded context (a pack in a private temporary directory) plus settings and client."""

    def __init__(self, source: str, settings: Settings, pack: ContextPack, pack_dir: str,
                 client: ModelClient | None = None) -> None:
        self.source = source
        self.settings = settings
        self.pack = pack
        self._pack_dir = pack_dir
        self.metadata: dict[str, Any] = describe_context(pack)
        self.metadata_text = render_context_summary(self.metadata)
        self.client = client or ModelClient(
            prices={m: (p.input, p.output) for m, p in settings.prices.items()})
        self.coverage: Coverage | None = None

    @classmethod
    def open(cls, source: str, settings: Settings, *, stdin: BinaryIO | None = None,
             client: ModelClient | None = None) -> Workspace:
        """Load `source` (a directory, a file, or "-" for stdin); InputError if unusable."""
        pack_dir = make_scratch_dir("pack")
        try:
            pack = load_context(source, pack_dir, LoadOptions.from_settings(settings), stdin=stdin)
        except BaseException:
            shutil.rmtree(pack_dir, ignore_errors=True)
            raise
        return cls(source, settings, pack, pack_dir, client)

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
        kind = "text" if self.pack.kind == "text" else "mapping"
        return RunContext(PackContext(str(self._pack_dir)), kind, self.metadata_text,
                          self.context_summary(), coverage=self.coverage)

    def context_summary(self) -> dict[str, Any]:
        """What a transcript header and session_started carry: metadata, never contents;
        `root` is the source's absolute path, for a fork to load it again."""
        root = {} if self.source == "-" else {"root": str(Path(self.source).resolve())}
        return {"source": self.source, **root, **self.metadata}

    def new_run(self, bus: EventBus, *, start_paused: bool = False,
                settings: Settings | None = None) -> Run:
        """A run over this context; `settings`: a session's own (a fork's, switched models),
        else the workspace's."""
        return Run(settings or self.settings, self.client, bus, start_paused=start_paused)

    def close(self) -> None:
        if self.coverage is not None:
            self.coverage.close()
            self.coverage = None
        shutil.rmtree(self._pack_dir, ignore_errors=True)
