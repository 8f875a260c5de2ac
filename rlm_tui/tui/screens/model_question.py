"""The question a first run asks before its first question: which model answers? The models
whose API keys are in the environment, a local OpenAI-compatible server (an address to type),
any other model by name, or the offline demo; optionally saved to the config file.

The choice is checked by the app (`check`, as "Switch root model…" checks a model) while the
dialog stays open, so a problem is said here and another choice can be made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

LOCAL = "local"  # option ids beside the models' names
OTHER = "other"
DEMO = "demo"
LOCAL_ADDRESS = "http://localhost:11434/v1"  # Ollama's; llama.cpp and vLLM use :8080, :8000


@dataclass(frozen=True)
class ModelChoice:
    """A model that passed its check; `save`: write it to the config file."""

    model: str
    api_base: str | None
    save: bool


def local_model_name(name: str) -> str:
    """A local server's model as litellm names it: `openai/NAME` (its provider is its wire
    format), whatever NAME holds (`qwen/qwen3-4b` is one model on LM Studio)."""
    name = name.strip()
    return name if name.startswith("openai/") else f"openai/{name}"


def server_address(text: str) -> str:
    """What was typed as the server's address; http:// when no scheme is given."""
    text = text.strip()
    return text if "://" in text else f"http://{text}"


Check = Callable[[str, str | None], Awaitable[str | None]]


class ModelQuestionScreen(ModalScreen[ModelChoice | None]):
    """Dismissed with a checked ModelChoice, or None (escape: later; the question comes back
    with the first question asked)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "later", "Later"),
    ]
    DEFAULT_CSS = """
    ModelQuestionScreen {
        align: center middle;
        #dialog { width: 90; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
                  border: thick $primary; background: $surface; overflow-y: auto; }
        #title { text-style: bold; }
        #about { color: $text-muted; margin-bottom: 1; }
        OptionList { height: auto; max-height: 10; background: $surface; }
        #fields { height: auto; display: none; }
        #fields.-shown { display: block; }
        #address-row { height: auto; }
        #address-row.-hidden { display: none; }
        Label { color: $text-muted; margin-top: 1; }
        Input { background: $boost; padding: 0 1; }
        Input:focus { background: $panel; }
        Checkbox { margin-top: 1; background: $surface; border: none; padding: 0; }
        #message { height: auto; margin-top: 1; display: none; }
        #message.-shown { display: block; }
        #message.-error { color: $text-error; }
        #hint { color: $text-muted; margin-top: 1; }
    }
    """

    def __init__(self, check: Check, *, config_path: str,
                 find_models: Callable[[], list[tuple[str, str]]]) -> None:
        super().__init__()
        self.check = check
        self.config_path = config_path
        self.find_models = find_models  # (model, key variable): called in a thread
        self._picked: str | None = None  # the option id being filled in (local, other)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static("Which model should answer?", id="title")
            yield Static("rlm-tui asks a language model about this context, and none is set "
                         "yet (--model, or model = \"...\" in the config file). Pick one:",
                         id="about", markup=False)
            yield OptionList(*self._options([]), id="choices")
            with Vertical(id="fields"):
                with Vertical(id="address-row"):
                    yield Label("The server's address (its OpenAI-compatible API)")
                    yield Input(placeholder=LOCAL_ADDRESS, id="address-input")
                yield Label("The model's name", id="name-label")
                yield Input(id="name-input")
            yield Checkbox(f"Save it as my default model, in {self.config_path}",
                           id="save")
            yield Static("", id="message", markup=False)
            yield Static("enter chooses · tab moves · escape: later (asked again at your "
                         "first question)", id="hint", markup=False)

    def _options(self, keyed: list[tuple[str, str]]) -> list[Option]:
        options = [Option(f"{model}  (${variable} is set)", id=f"model:{model}")
                   for model, variable in keyed]
        options += [
            Option("A local server: Ollama, llama.cpp, vLLM, LM Studio… (OpenAI-compatible)",
                   id=LOCAL),
            Option("Another model, by its litellm name…", id=OTHER),
            Option("demo: offline, with canned answers, to look around first", id=DEMO),
        ]
        return options

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._find_keyed()

    @work(thread=True, exit_on_error=False)
    def _find_keyed(self) -> None:
        keyed = self.find_models()
        if keyed:
            self.app.call_from_thread(self._show_keyed, keyed)

    def _show_keyed(self, keyed: list[tuple[str, str]]) -> None:
        choices = self.query_one(OptionList)
        choices.clear_options()
        choices.add_options(self._options(keyed))
        choices.highlighted = 0

    # -- choosing ----------------------------------------------------------------------------

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        option = event.option.id or ""
        if option in (LOCAL, OTHER):
            self._fill_in(option)
        elif option == DEMO:
            self._try("demo", None)
        else:
            self._try(option.removeprefix("model:"), None)

    def _fill_in(self, option: str) -> None:
        """The fields a local server or another model needs, shown and focused."""
        self._picked = option
        local = option == LOCAL
        self.query_one("#fields").add_class("-shown")
        self.query_one("#address-row").set_class(not local, "-hidden")
        name = self.query_one("#name-input", Input)
        name.placeholder = "e.g. llama3.2, qwen2.5-coder:7b" if local else \
            "e.g. anthropic/claude-sonnet-4-5, openrouter/openai/gpt-5-mini"
        self.query_one("#name-label", Label).update(
            "The model's name on that server" if local else "The model's name, with its "
            "provider (its key must be in the environment)")
        self._say("")
        (self.query_one("#address-input", Input) if local else name).focus()

    @on(Input.Submitted, "#address-input")
    def _address_given(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#name-input", Input).focus()

    @on(Input.Submitted, "#name-input")
    def _name_given(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self._say("Type the model's name first.", error=True)
            return
        if self._picked == LOCAL:
            address = self.query_one("#address-input", Input).value.strip() or LOCAL_ADDRESS
            self._try(local_model_name(name), server_address(address))
        else:
            self._try(name, None)

    def _try(self, model: str, api_base: str | None) -> None:
        self._say(f"Checking {model}…")
        self._check(model, api_base)

    @work(exclusive=True, group="check", exit_on_error=False)
    async def _check(self, model: str, api_base: str | None) -> None:
        problem = await self.check(model, api_base)
        if problem is not None:
            self._say(problem, error=True)
            return
        self.dismiss(ModelChoice(model, api_base, self.query_one("#save", Checkbox).value))

    def _say(self, text: str, *, error: bool = False) -> None:
        message = self.query_one("#message", Static)
        message.update(text)
        message.set_class(bool(text), "-shown")
        message.set_class(error, "-error")

    def action_later(self) -> None:
        self.dismiss(None)
