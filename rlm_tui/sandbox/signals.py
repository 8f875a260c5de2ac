"""The sandbox's own stop signals, raised inside model code to end a cell.

They derive from BaseException, and every `except` clause in a cell re-raises them first
(see policy.CellTransformer), so model code cannot swallow them.
"""


class SandboxStop(BaseException):
    """Base of every signal that ends a cell from inside."""


class CellTimeout(SandboxStop):
    """The cell ran past its time limit."""


class CellInterrupted(SandboxStop):
    """The host asked the cell to stop (halt)."""


class OutputFlood(SandboxStop):
    """The cell printed far more than can be kept."""


class FinalAnswer(SandboxStop):
    """FINAL / FINAL_VAR: the cell ends and the session has its answer."""

    def __init__(self, answer: str, source: str) -> None:
        super().__init__(answer)
        self.answer = answer
        self.source = source  # "FINAL" or "FINAL_VAR(name)"
