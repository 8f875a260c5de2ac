"""The reference library's trajectory logs (real ones, written by rlms 0.1.1 and 0.1.3 in
tests/fixtures/rlms_logs) -> our events, and our sessions -> their format."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from rlm_tui.transcript import export_transcript, parse_transcript, read_transcript
from rlm_tui.transcript.rlms_log_writer import HISTORY_WINDOW
from tests.unit.transcript.synthetic import synthetic_events, transcript_bytes

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rlms_logs"
LOGS = sorted(FIXTURES.glob("*.jsonl"))


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_fixtures_are_there():
    assert {p.stem for p in LOGS} >= {"v013_answer_dict", "v013_max_iterations",
                                      "v013_rlm_query", "v011_final_prose", "v011_final_var"}


@pytest.mark.parametrize("name, query, answer, source", [
    ("v013_answer_dict", "Which functions does util.py define, and who calls them?",
     "util.py defines add(a, b) and sub(a, b). app.py calls add.", 'answer["ready"]'),
    ("v013_max_iterations", "How many lines does the context have?",
     "The context has 3 lines.", "forced"),
    ("v013_rlm_query", "Count the words in the second line, using a child RLM.", "3",
     'answer["ready"]'),
    ("v011_final_prose", "How many files are in the context?",
     "3 files: README.md, app.py, util.py", "FINAL"),
    ("v011_final_var", "What does app.py's main return?",
     "main returns util.add(2, 3), which is 5.", "FINAL_VAR"),
])
def test_an_rlms_log_reads_as_a_session_with_its_question_and_answer(name, query, answer,
                                                                      source):
    transcript = read_transcript(FIXTURES / f"{name}.jsonl")
    assert transcript.source_format == "rlms" and transcript.stop is None
    model = transcript.fold()
    assert model.query == query
    assert model.status == "answered" and model.answer == answer
    assert model.root.answer_source == source
    assert model.root.root_model == "test-root"
    assert any("converted from an rlms" in note for note in transcript.notes())


def test_iterations_cells_and_calls_follow_the_log():
    records = load(FIXTURES / "v013_answer_dict.jsonl")
    model = read_transcript(FIXTURES / "v013_answer_dict.jsonl").fold()
    iterations = records[1:]
    assert len(model.root.iterations) == len(iterations)
    for it, record in zip(model.root.iterations, iterations, strict=True):
        assert it.text == record["response"]
        assert [c.code for c in it.cells] == [b["code"] for b in record["code_blocks"]]
        assert [c.stdout for c in it.cells] == [b["result"]["stdout"]
                                                for b in record["code_blocks"]]
    second = model.root.iterations[1]
    assert [len(c.subcalls) for c in second.cells] == [3, 0]
    call = second.cells[0].subcalls[0]
    assert call.kind == "llm" and call.usage.prompt_tokens == 22
    assert call.usage.completion_tokens == 10 and call.response.startswith("util.py defines")
    failed = second.cells[1]
    assert failed.status == "error" and failed.error == "KeyError: 'missing.py'"
    assert failed.error_kind == "KeyError"
    # rlms records no usage for root calls: counted as calls of unknown cost
    assert model.totals.usage.prompt_tokens == 22 + 14 + 14
    assert not model.totals.cost_known
    assert model.totals.sub_calls == 3


def test_a_child_rlm_in_a_call_becomes_a_child_session():
    model = read_transcript(FIXTURES / "v013_rlm_query.jsonl").fold()
    call = model.root.iterations[0].cells[0].subcalls[0]
    assert call.kind == "rlm" and call.child is not None
    child = call.child
    assert child.depth == 1 and child.parent_id == call.node_id
    assert child.query == "Count the words in this text: gamma delta epsilon"
    assert child.answer == "3" and len(child.iterations) == 2
    # the child's roll-up is what the parent's call recorded for it
    assert call.child_usage.prompt_tokens == 1952 and call.child_usage.completion_tokens == 30
    assert model.totals.usage.prompt_tokens == 1952


def test_the_forced_final_turn_is_marked():
    model = read_transcript(FIXTURES / "v013_max_iterations.jsonl").fold()
    assert model.forced
    assert [it.forced for it in model.root.iterations] == [False, False, True]


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.stem)
def test_rlms_log_to_events_to_rlm_log_keeps_the_structure(path):
    original = load(path)
    exported = [json.loads(line) for line in
                export_transcript(read_transcript(path), "rlm-log").splitlines()]
    assert exported[0]["type"] == "metadata"
    assert {k: v for k, v in exported[0].items() if k != "timestamp"} == \
        {k: v for k, v in original[0].items() if k != "timestamp"}
    assert same_iterations(original[1:], exported[1:])


def same_iterations(original: list[dict], exported: list[dict]) -> bool:
    assert [it["iteration"] for it in exported] == [it["iteration"] for it in original]
    for a, b in zip(original, exported, strict=True):
        assert b["response"] == a["response"]
        assert b["final_answer"] == a["final_answer"]
        if a["iteration_time"] is not None:
            assert b["iteration_time"] == pytest.approx(a["iteration_time"])
        assert len(b["code_blocks"]) == len(a["code_blocks"])
        for x, y in zip(a["code_blocks"], b["code_blocks"], strict=True):
            assert y["code"] == x["code"]
            for key in ("stdout", "stderr", "final_answer"):
                assert y["result"][key] == x["result"][key]
            assert y["result"]["execution_time"] == pytest.approx(x["result"]["execution_time"])
            assert len(y["result"]["rlm_calls"]) == len(x["result"]["rlm_calls"])
            calls = zip(x["result"]["rlm_calls"], y["result"]["rlm_calls"], strict=True)
            for c, d in calls:
                assert (d["prompt"], d["response"]) == (c["prompt"], c["response"])
                assert d["usage_summary"] == c["usage_summary"]
                assert ("metadata" in d) == ("metadata" in c)
                if "metadata" in c:
                    assert same_iterations(c["metadata"]["iterations"],
                                           d["metadata"]["iterations"])
    return True


def check_visualizer_shape(record: dict) -> None:
    """What rlms' visualizer dereferences must be there, with these types."""
    assert record["type"] == "iteration" and isinstance(record["iteration"], int)
    assert isinstance(record["timestamp"], str)
    assert isinstance(record["prompt"], list) and record["prompt"]
    for message in record["prompt"]:
        assert set(message) == {"role", "content"}
        assert isinstance(message["role"], str) and isinstance(message["content"], str)
    assert isinstance(record["response"], str)
    assert isinstance(record["iteration_time"], float)
    for block in record["code_blocks"]:
        result = block["result"]
        assert isinstance(block["code"], str) and isinstance(result["execution_time"], float)
        for key in ("stdout", "stderr"):
            assert isinstance(result[key], str)
        assert isinstance(result["locals"], dict)
        for call in result["rlm_calls"]:
            assert isinstance(call["execution_time"], float)
            assert isinstance(call["prompt_tokens"], int)
            assert isinstance(call["completion_tokens"], int)
            assert isinstance(call["response"], str)
            assert isinstance(call["usage_summary"]["model_usage_summaries"], dict)
            if "metadata" in call:
                for child in call["metadata"]["iterations"]:
                    check_visualizer_shape(child)


def test_our_transcript_as_an_rlm_log_has_what_the_visualizer_reads_and_reads_back():
    events = synthetic_events(4, subcalls_per_cell=2, child_every=2, error_every=3)
    ours = parse_transcript(transcript_bytes(events))
    text = export_transcript(ours, "rlm-log")
    records = [json.loads(line) for line in text.splitlines()]
    meta = records[0]
    assert meta["type"] == "metadata" and meta["root_model"] == "root-model"
    assert meta["max_iterations"] == 4 and isinstance(meta["timestamp"], str)
    for record in records[1:]:
        check_visualizer_shape(record)
    first_user = [m for m in records[1]["prompt"] if m["role"] == "user"][0]["content"]
    assert 'original query: "What does the code do? "' in first_user
    assert records[-1]["final_answer"] == "the answer"
    assert all(r["final_answer"] is None for r in records[1:-1])
    failed = records[3]["code_blocks"][0]["result"]["stderr"]
    assert "NameError" in failed
    # read back through the rlms path: the same session, as far as rlms logs can say
    back = parse_transcript(text.encode()).fold()
    model = ours.fold()
    assert back.answer == model.answer and back.query.strip() == model.query.strip()
    assert [len(it.cells) for it in back.root.iterations] == \
        [len(it.cells) for it in model.root.iterations]
    assert back.totals.sub_calls == model.totals.sub_calls
    child = back.root.iterations[1].cells[0].subcalls[0].child
    assert child is not None and child.answer == "child answer"
    assert back.root.iterations[2].cells[0].error_kind == "NameError"


def test_each_prompt_grows_turn_by_turn_and_long_ones_leave_out_the_middle():
    events = synthetic_events(HISTORY_WINDOW, subcalls_per_cell=0)
    ours = parse_transcript(transcript_bytes(events))
    records = [json.loads(line) for line in export_transcript(ours, "rlm-log").splitlines()]
    lengths = [len(r["prompt"]) for r in records[1:]]
    assert lengths[:3] == [2, 4, 6]  # system + question, then a reply and its output a turn
    assert max(lengths) == 2 + 1 + HISTORY_WINDOW
    assert "earlier messages left out" in records[-1]["prompt"][2]["content"]


def test_a_cut_rlms_log_reads_its_whole_iterations_and_has_no_end():
    data = (FIXTURES / "v013_answer_dict.jsonl").read_bytes()
    cut = data[: data.rindex(b"\n", 0, len(data) - 1) + 40]
    transcript = parse_transcript(cut)
    assert transcript.source_format == "rlms" and transcript.stop is not None
    model = transcript.fold()
    assert len(model.root.iterations) == 2 and model.status == "running"


def test_an_rlms_log_cut_at_every_byte_offset_reads_without_error():
    data = (FIXTURES / "v011_final_prose.jsonl").read_bytes()
    line_ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for offset in range(1, len(data) + 1):
        transcript = parse_transcript(data[:offset], name="cut")
        whole = sum(1 for end in line_ends if end <= offset) + (offset + 1 in line_ends)
        model = transcript.fold()
        iterations = len(model.root.iterations) if model.root else 0
        assert iterations == max(0, whole - 1), offset  # the metadata line is the first


def test_a_converted_log_reports_the_run_state_as_the_engine_does():
    model = read_transcript(FIXTURES / "v013_answer_dict.jsonl").fold()
    assert model.state == "done"
    events = read_transcript(FIXTURES / "v013_answer_dict.jsonl").events
    assert [e.type for e in events[:2]] == ["session_started", "state_changed"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(a.ts <= b.ts for a, b in pairwise(events))
