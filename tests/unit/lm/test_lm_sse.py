"""SSEDecoder: server-sent events from bytes as they arrive, however the reads split them."""

import json

import pytest

from rlm_tui.lm.openai_stream import DONE, SSEDecoder

STREAM = (
    b'data: {"choices": [{"delta": {"content": "Hel"}}]}\n\n'
    b'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}\n\n'
    b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}\n\n'
    b"data: [DONE]\n\n"
)


def decode(*reads: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    events = [event for data in reads for event in decoder.feed(data)]
    return events + decoder.end()


def test_each_event_gives_its_data():
    events = decode(STREAM)

    assert [json.loads(e) for e in events[:3]][0]["choices"][0]["delta"]["content"] == "Hel"
    assert events[3] == DONE
    assert len(events) == 4


@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 50])
def test_events_split_across_reads_at_any_byte_come_out_whole_and_in_order(size):
    reads = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]

    assert decode(*reads) == decode(STREAM)


def test_crlf_line_ends_are_read_like_lf():
    assert decode(STREAM.replace(b"\n", b"\r\n")) == decode(STREAM)


def test_a_crlf_split_between_reads_is_one_line_end():
    crlf = STREAM.replace(b"\n", b"\r\n")
    cut = crlf.index(b"\r\n") + 1  # the read ends between CR and LF

    assert decode(crlf[:cut], crlf[cut:]) == decode(STREAM)


def test_comments_keep_alives_and_other_fields_are_skipped():
    noisy = (b": keep-alive\n\n\n\nevent: message\nid: 7\nretry: 1000\n"
             b'data: {"a": 1}\n\n: ping\n\ndata: [DONE]\n\n')

    assert decode(noisy) == [b'{"a": 1}', DONE]


def test_data_without_a_space_after_the_colon_is_read_too():
    assert decode(b'data:{"a": 1}\n\n') == [b'{"a": 1}']


def test_data_lines_of_one_event_are_joined_by_newlines():
    assert decode(b"data: first\ndata: second\n\n") == [b"first\nsecond"]


def test_a_chunk_with_no_choices_and_only_usage_is_an_ordinary_event():
    [event] = decode(b'data: {"id": "x", "choices": [], "usage": {"total_tokens": 9}}\n\n')

    assert json.loads(event) == {"id": "x", "choices": [], "usage": {"total_tokens": 9}}


def test_a_last_event_without_its_blank_line_is_given_at_the_end():
    decoder = SSEDecoder()

    assert decoder.feed(b'data: {"a": 1}\n\ndata: [DONE]') == [b'{"a": 1}']
    assert decoder.end() == [DONE]


def test_nothing_is_given_for_blank_lines_alone():
    assert decode(b"\n\n\r\n\n") == []
