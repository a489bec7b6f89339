"""The durable mark and the relay's view of a log written by another process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cachalot_common.events import ContactSubmitted
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.chain import Link, make_line
from cachalot_contact.intake import submitted_event
from cachalot_contact.log import ContactLog
from cachalot_contact.mark import (
    RECORD_SIZE,
    MarkReader,
    MarkWriter,
    decode_mark,
    encode_mark,
    mark_path,
)
from cachalot_contact.relay import outgoing
from cachalot_contact.schemas import ContactForm
from cachalot_contact.tail import LogTail


@given(st.integers(min_value=0, max_value=10**20 - 1))
def test_a_mark_reads_back_as_written(offset: int):
    record = encode_mark(offset)
    assert len(record) == RECORD_SIZE
    assert decode_mark(record) == offset


@given(
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=1, max_value=RECORD_SIZE - 1),
)
def test_a_torn_mark_is_never_taken_for_a_number(old: int, new: int, cut: int):
    """Half of the new record over the old one: read as nothing, or as one of the two."""
    torn = encode_mark(new)[:cut] + encode_mark(old)[cut:]
    assert decode_mark(torn) in {None, old, new}


def test_no_mark_file_means_no_writer_yet(tmp_path: Path):
    reader = MarkReader(tmp_path / "missing.durable")
    assert reader.read() is None
    writer = MarkWriter(tmp_path / "missing.durable")
    assert reader.read() is None  # created, nothing marked yet
    writer.write(42)
    assert reader.read() == 42
    writer.close()
    reader.close()


async def test_the_writer_marks_what_it_has_fsynced(tmp_path: Path):
    path = tmp_path / "c.log"
    log = ContactLog(path)
    await log.open()
    reader = MarkReader(mark_path(path))
    assert reader.read() == 0
    await log.append({"n": 1})
    assert reader.read() == path.stat().st_size == log.durable_offset
    await log.close()
    reader.close()


async def test_a_tail_sees_only_marked_lines_and_wakes_when_the_mark_moves(tmp_path: Path):
    path = tmp_path / "c.log"
    first, end = make_line({"n": 1}, Link())
    second, _ = make_line({"n": 2}, end)
    path.write_bytes(first + second)  # both written, only the first one fsynced
    writer = MarkWriter(mark_path(path))
    writer.write(len(first))
    tail = LogTail(path, min_poll=0.001, max_poll=0.01)
    assert tail.marked()
    assert tail.durable_offset == len(first)
    assert tail.read_durable(0) == first
    assert tail.is_line_start(len(first))
    assert not tail.is_line_start(len(first) + len(second))  # beyond the mark
    waiting = asyncio.create_task(tail.wait_beyond(len(first)))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    writer.write(len(first) + len(second))
    await asyncio.wait_for(waiting, 2)
    assert tail.read_durable(len(first)) == second
    writer.write(len(first))  # a stale mark never moves the tail backwards
    assert tail.durable_offset == len(first) + len(second)
    writer.close()
    tail.close()


def test_a_log_line_goes_on_the_topic_as_the_event_it_holds():
    form = ContactForm.model_validate(
        {"name": "Ada", "contact": "@ada_lovelace", "category": "other", "message": 'a "quote"'}
    )
    submission = uuid4()
    event = submitted_event(submission, form, ip="203.0.113.9", user_agent="curl/8")
    line, _ = make_line(event, Link())
    seq, message = outgoing(line.rstrip(b"\n"))
    assert seq == 1
    assert message.key == str(submission)
    assert message.topic == CONTACT_SUBMITTED
    decoded = ContactSubmitted.model_validate_json(message.payload)
    assert decoded.model_dump(mode="json") == event  # the event, exactly as built
    assert json.loads(message.payload) == event


def test_a_line_not_in_the_logs_form_is_refused():
    with pytest.raises(ValueError, match="canonical form"):
        outgoing(json.dumps({"seq": 1, "event": {"event_id": "x"}, "hash": "0"}).encode())
