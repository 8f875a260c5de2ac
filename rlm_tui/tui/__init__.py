"""The terminal app: watch and steer a run live (Textual).

`rlm_tui.tui.app.RlmApp` is the composition root; each pane is one widget module under
`widgets/`, modal dialogs live under `screens/`. Nothing here is imported by the engine, and
this package imports nothing heavy at module level (see `app.py` for what is deferred).
"""
