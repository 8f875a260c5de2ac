"""The fold: events in stream order -> the session tree, totals and answer."""

from __future__ import annotations

from rlm_tui import events as ev
from rlm_tui.transcript import CellNode, IterationNode, SessionModel, SubCallNode
from tests.unit.transcript.synthetic import Stream, synthetic_events


def test_the_tree_follows_node_ids_session_iteration_cell_subcall_child():
    model = SessionModel.from_events(synthetic_events(4, subcalls_per_cell=2, child_every=2))
    root = model.root
    assert root is not None and root.session_id == "s1" and root.depth == 0
    assert [it.iteration for it in root.iterations] == [1, 2, 3, 4]
    cell = root.iterations[1].cells[0]
    assert cell.node_id == "s1.i2.c1" and cell.status == "done"
    child_call, plain_call = cell.subcalls
    assert child_call.kind == "rlm" and child_call.child is not None
    assert child_call.child.session_id == "s1.i2.c1.q1.s"
    assert child_call.child.answer == "child answer" and child_call.child.status == "answered"
    assert child_call.child.iterations[0].cells[0].subcalls[0].status == "done"
    assert plain_call.kind == "llm" and plain_call.child is None
    assert model.sessions.keys() == {"s1", "s1.i2.c1.q1.s", "s1.i4.c1.q1.s"}
    assert model.status == "answered" and model.answer == "the answer"


def test_totals_are_the_sum_of_root_and_sub_call_usage_at_every_depth():
    events = synthetic_events(4, subcalls_per_cell=3, child_every=2)
    model = SessionModel.from_events(events)
    expected = ev.Usage()
    for event in events:
        if event.type in ("root_done", "subcall_finished"):
            expected = expected + event.usage
    assert model.totals.usage == expected
    finished = [e for e in events if e.type == "session_finished" and e.node_id == "s1"][0]
    assert model.totals.usage.total_tokens == finished.usage.total_tokens
    assert model.totals.sub_calls == sum(1 for e in events if e.type == "subcall_finished")
    assert model.totals.seconds == finished.seconds
    # a child node carries its roll-up apart from its own (zero) usage
    child_call = model.root.iterations[1].cells[0].subcalls[0]
    assert child_call.usage == ev.Usage() and child_call.child_usage is not None
    assert child_call.rollup == child_call.child_usage


def test_reasoning_joins_deltas_drops_them_on_restart_and_takes_root_done_text():
    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="m",
           sub_model="m", max_iterations=3)
    s.emit(ev.IterationStarted, session_id="r", node_id="r.i1", parent_id="r", iteration=1,
           max_iterations=3)
    model = SessionModel.from_events(s.events)
    it = model.root.iterations[0]
    for text in ("Hel", "lo"):
        node = model.apply(s.emit(ev.RootDelta, session_id="r", node_id="r.i1",
                                  parent_id="r", text=text))
        assert node is it
    assert it.text == "Hello" and it.status == "running"
    model.apply(s.emit(ev.RootDelta, session_id="r", node_id="r.i1", parent_id="r", text="",
                       restart=True))
    assert it.text == ""
    model.apply(s.emit(ev.RootDelta, session_id="r", node_id="r.i1", parent_id="r",
                       text="Second try"))
    assert it.text == "Second try"
    model.apply(s.emit(ev.RootDone, session_id="r", node_id="r.i1", parent_id="r",
                       text="Second try, final.", model="m",
                       usage=ev.Usage.of_call(10, 5, None), latency_s=1.5, attempts=2))
    assert it.text == "Second try, final." and it.status == "done" and it.attempts == 2
    assert model.totals.usage.unpriced_calls == 1 and not model.totals.cost_known


def test_a_failed_root_call_keeps_what_was_streamed():
    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="m",
           sub_model="m", max_iterations=3)
    s.emit(ev.IterationStarted, session_id="r", node_id="r.i1", parent_id="r", iteration=1,
           max_iterations=3)
    s.emit(ev.RootDelta, session_id="r", node_id="r.i1", parent_id="r", text="partial")
    s.emit(ev.SubcallRetry, session_id="r", node_id="r.i1", parent_id="r", attempt=1,
           reason="rate limited", wait_s=2.0)
    s.emit(ev.RootDone, session_id="r", node_id="r.i1", parent_id="r", text="", model="m",
           usage=ev.Usage(), latency_s=0.0, error="the provider refused the key")
    s.emit(ev.SessionFinished, session_id="r", node_id="r", status="failed",
           reason="the provider refused the key")
    model = SessionModel.from_events(s.events)
    it = model.root.iterations[0]
    assert it.text == "partial" and it.status == "error"
    assert it.retries[0].reason == "rate limited"
    assert model.status == "failed" and model.reason == "the provider refused the key"
    assert model.answer is None


def test_a_cell_and_sub_call_keep_errors_retries_and_the_cut_note():
    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="m",
           sub_model="m", max_iterations=3)
    s.emit(ev.IterationStarted, session_id="r", node_id="r.i1", parent_id="r", iteration=1,
           max_iterations=3)
    s.emit(ev.CellStarted, session_id="r", node_id="r.i1.c1", parent_id="r.i1", index=1,
           code="x")
    s.emit(ev.SubcallStarted, session_id="r", node_id="r.i1.c1.q1", parent_id="r.i1.c1",
           kind="llm", model="m", prompt="p", prompt_chars=1, depth=1)
    s.emit(ev.SubcallRetry, session_id="r", node_id="r.i1.c1.q1", parent_id="r.i1.c1",
           attempt=1, reason="timeout", wait_s=0.5)
    s.emit(ev.SubcallFinished, session_id="r", node_id="r.i1.c1.q1", parent_id="r.i1.c1",
           model="m", error="gave up after 2 attempts", attempts=2)
    s.emit(ev.CellFinished, session_id="r", node_id="r.i1.c1", parent_id="r.i1",
           stdout="x" * 100, stdout_total_chars=5000, error="RuntimeError: boom",
           error_kind="RuntimeError", seconds=0.25)
    model = SessionModel.from_events(s.events)
    cell = model.root.iterations[0].cells[0]
    call = cell.subcalls[0]
    assert call.status == "error" and call.attempts == 2 and call.retries[0].reason == "timeout"
    assert cell.status == "error" and cell.error_kind == "RuntimeError"
    assert cell.cut_note == "output cut: 100 of 5,000 characters kept"
    assert model.totals.sub_calls == 1


def test_a_stream_cut_short_folds_to_a_running_session():
    events = synthetic_events(3, child_every=2)
    cut = [e for e in events if e.seq <= 20]
    model = SessionModel.from_events(cut)
    assert model.status == "running" and model.answer is None
    open_nodes = [n for n in model.nodes.values()
                  if isinstance(n, (CellNode, SubCallNode)) and n.status == "running"]
    assert open_nodes  # the cell or call in flight when the file ends
    assert model.totals.seconds > 0


def test_events_whose_node_is_missing_are_counted_and_ignored():
    events = synthetic_events(2)
    model = SessionModel.from_events(e for e in events if e.type != "iteration_started")
    assert model.root.iterations == []
    assert model.orphans > 0
    assert model.totals.usage.calls > 0  # totals still count every call


def test_apply_returns_the_node_each_event_touched():
    model = SessionModel()
    touched = [model.apply(e) for e in synthetic_events(1, subcalls_per_cell=1)]
    kinds = {type(node).__name__ for node in touched if node is not None}
    assert kinds == {"SessionNode", "IterationNode", "CellNode", "SubCallNode"}
    assert isinstance(model.nodes["s1.i1"], IterationNode)


def test_a_forced_answer_and_a_halt_are_told_apart():
    forced = SessionModel.from_events(synthetic_events(3, forced=True))
    assert forced.forced and forced.status == "answered"
    assert forced.root.iterations[-1].forced and forced.root.iterations[-1].cells == []
    halted = SessionModel.from_events(synthetic_events(2, answer=None))
    assert halted.status == "halted" and halted.reason == "halted by the user"
    assert halted.answer is None and halted.state == "halted"


def test_to_dict_is_json_ready():
    import json

    model = SessionModel.from_events(synthetic_events(2, child_every=1), {"query": "q"})
    document = json.loads(json.dumps(model.to_dict()))
    assert document["session"]["iterations"][0]["cells"][0]["subcalls"][0]["child"]
    assert document["totals"]["sub_calls"] == model.totals.sub_calls


def halted_mid_call() -> list:
    """A root turn done, its cell running a sub-call and a child session, then a halt."""
    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="m",
           sub_model="m", max_iterations=3)
    s.emit(ev.IterationStarted, session_id="r", node_id="r.i1", parent_id="r", iteration=1,
           max_iterations=3)
    s.emit(ev.RootDone, session_id="r", node_id="r.i1", parent_id="r", text="t", model="m",
           usage=ev.Usage.of_call(10, 2, 0.01), latency_s=1.0)
    s.emit(ev.CellStarted, session_id="r", node_id="r.i1.c1", parent_id="r.i1", index=1,
           code="x")
    for q, kind in (("q1", "llm"), ("q2", "rlm")):
        s.emit(ev.SubcallStarted, session_id="r", node_id=f"r.i1.c1.{q}", parent_id="r.i1.c1",
               kind=kind, model="m", prompt="p", prompt_chars=1, depth=1)
    s.emit(ev.SessionStarted, session_id="r.i1.c1.q2.s", node_id="r.i1.c1.q2.s",
           parent_id="r.i1.c1.q2", query="sub", depth=1, root_model="m", sub_model="m",
           max_iterations=3)
    s.emit(ev.IterationStarted, session_id="r.i1.c1.q2.s", node_id="r.i1.c1.q2.s.i1",
           parent_id="r.i1.c1.q2.s", iteration=1, max_iterations=3)
    s.emit(ev.SessionFinished, session_id="r", node_id="r", status="halted",
           reason="halted by the user")
    return s.events


def test_a_halt_stops_every_turn_cell_and_call_still_in_flight_at_every_depth():
    model = SessionModel.from_events(halted_mid_call())
    statuses = {node_id: node.status for node_id, node in model.nodes.items()}
    assert statuses == {"r": "halted", "r.i1": "done", "r.i1.c1": "stopped",
                        "r.i1.c1.q1": "stopped", "r.i1.c1.q2": "stopped",
                        "r.i1.c1.q2.s": "halted", "r.i1.c1.q2.s.i1": "stopped"}
    assert model.nodes["r.i1.c1.q1"].stopped_by == "halted by the user"
    assert model.totals.calls_running == 0 and model.totals.calls_done == 1
    assert all(node.running_below == 0 for node in model.nodes.values())
    document = model.to_dict()
    assert '"running"' not in str(document).replace("'", '"')


def test_the_fold_says_which_nodes_changed_roll_ups_and_stops_included():
    events = halted_mid_call()
    model = SessionModel()
    for event in events[:3]:  # the root turn done
        model.apply(event)
    assert {n.node_id for n in model.take_changed()} == {"r", "r.i1"}
    assert model.take_changed() == set()
    for event in events[3:-1]:
        model.apply(event)
    changed = {n.node_id for n in model.take_changed()}
    assert "r.i1.c1.q2.s.i1" in changed and "r.i1.c1.q2" in changed  # running below it
    assert model.nodes["r.i1"].running_below == 3 and model.nodes["r.i1.c1"].running_below == 3
    model.apply(events[-1])
    assert {n.node_id for n in model.take_changed()} == set(model.nodes)


def test_roll_ups_count_tokens_cost_and_sub_calls_beneath_each_node():
    model = SessionModel.from_events(synthetic_events(3, subcalls_per_cell=2, child_every=2))
    root = model.root
    assert root.rollup == model.totals.usage
    assert root.tally.sub_calls == model.totals.sub_calls
    for it in root.iterations:
        below = it.usage
        for cell in it.cells:
            assert cell.rollup == sum((c.rollup for c in cell.subcalls), ev.Usage())
            below = below + cell.rollup
        assert it.rollup == below


def test_an_unpriced_run_says_cost_unknown_from_the_start_never_complete():
    s = Stream()
    s.emit(ev.SessionStarted, session_id="r", node_id="r", query="q", root_model="openai/gemma",
           sub_model="openai/gemma", max_iterations=3, priced=False)
    model = SessionModel.from_events(s.events)
    totals = model.totals.to_dict()
    assert totals["cost_usd"] is None and totals["cost_complete"] is False


def test_calls_stopped_in_flight_leave_the_cost_incomplete():
    model = SessionModel.from_events(halted_mid_call())  # one priced call done, three stopped
    totals = model.totals.to_dict()
    assert totals["cost_usd"] == 0.01 and totals["cost_complete"] is False
