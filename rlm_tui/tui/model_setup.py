"""A first run, without a model: the live app asks which model answers before the first
question (screens/model_question.py), checks the choice as "Switch root model…" does
(steering.py's `checked`), and writes it to the config file when the person says so.

`ModelSetup` is mixed into RlmApp (app.py), which calls `needs_model` and `ask_for_model`
and is told of the choice by `model_ready`. `rlm-tui run` keeps its one-line error.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from rlm_tui.config import Settings, default_config_path, save_model_choice
from rlm_tui.errors import ConfigError
from rlm_tui.tui.screens.model_question import ModelChoice, ModelQuestionScreen
from rlm_tui.tui.steering import PALETTE_ACTIONS, checked

if TYPE_CHECKING:
    from rlm_tui.tui.session_app import SessionApp

    _App = SessionApp
else:
    _App = object


def _suggested_models() -> list[tuple[str, str]]:
    from rlm_tui.engine.workspace import suggested_models  # deferred: the engine's imports

    return suggested_models()


# The palette's way to the question, while no model is set.
CHOOSE_MODEL = ("Choose a model…", "While none is set: the models whose API keys are set, a "
                "local server, or the offline demo", "choose_model")


class ModelSetup(_App):
    """The live app's question for a model (mixed into RlmApp)."""

    PALETTE_ACTIONS = (CHOOSE_MODEL, *PALETTE_ACTIONS)
    config_path: Path | None = None  # --config (launch.py sets it): where a choice is saved

    if TYPE_CHECKING:  # what the mixin reads and calls of RlmApp (app.py)
        settings: Settings
        workspace: object | None
        _pending_query: str | None
        _pending_fork: object | None

        def _warm_up_models(self) -> None: ...
        async def start_run(self, query: str) -> None: ...

    @property
    def needs_model(self) -> bool:
        return not self.settings.model

    def ask_for_model_first(self) -> None:
        """On opening: the question before any other, unless a model is set (or a fork
        brings its own)."""
        if self.needs_model and self._pending_fork is None:
            self.call_after_refresh(self.ask_for_model)

    def model_first(self, query: str) -> bool:
        """True when no model is set: `query` waits for one, and the question is asked."""
        if not self.needs_model:
            return False
        self._pending_query = query
        self.ask_for_model()
        return True

    def ask_for_model(self) -> None:
        """The model question, unless it is open already."""
        if any(isinstance(screen, ModelQuestionScreen) for screen in self.screen_stack):
            return
        path = self.config_path or default_config_path()
        self.push_screen(ModelQuestionScreen(self._check_question_choice,
                                             config_path=_home(path),
                                             find_models=_suggested_models),
                         self._question_answered)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose_model":
            return self.needs_model
        return super().check_action(action, parameters)  # type: ignore[misc]

    def model_ready(self) -> None:
        """A model was chosen: warm it up, and ask the question waiting for it, if any."""
        self._warm_up_models()
        if self.workspace is not None and self._pending_query and not self.run_is_live:
            query, self._pending_query = self._pending_query, None
            self.call_later(self.start_run, query)

    def action_choose_model(self) -> None:
        self.ask_for_model()

    def action_switch_model(self, which: str) -> None:
        if which == "root" and self.needs_model:
            self.ask_for_model()  # the newcomer's list rather than a blank name to type
            return
        super().action_switch_model(which)  # type: ignore[misc]

    def _with_model(self, model: str, api_base: str | None) -> Settings:
        return Settings.model_validate({**self.settings.model_dump(), "model": model,
                                        "api_base": api_base})

    async def _check_question_choice(self, model: str, api_base: str | None) -> str | None:
        from rlm_tui.engine.workspace import check_models  # deferred: the engine's imports

        try:
            candidate = self._with_model(model, api_base)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = "the address" if "api_base" in error["loc"] else str(error["loc"][0])
            return f"{where}: {error['msg'].removeprefix('Value error, ')}"
        return await checked(check_models, candidate)

    def _question_answered(self, choice: ModelChoice | None) -> None:
        if choice is None:
            self.notify("Pick a model when you ask your first question, or with the "
                        "palette's Switch root model… (ctrl+p).", title="No model yet",
                        timeout=8)
            return
        self.settings = self._with_model(choice.model, choice.api_base)
        self.session.status_bar.model = choice.model
        if choice.save:
            self.run_worker(self._save_model(choice), group="models", exit_on_error=False)
        self.model_ready()

    async def _save_model(self, choice: ModelChoice) -> None:
        try:
            path = await asyncio.to_thread(save_model_choice, choice.model, choice.api_base,
                                           self.config_path)
        except ConfigError as exc:
            self.notify(str(exc), title="Model not saved", severity="error", timeout=12)
            return
        self.notify(f"{choice.model} is your default model, in {_home(path)}",
                    title="Saved")


def _home(path: Path) -> str:
    """`path` with the home directory as ~ (shorter, and names no user on screen)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
