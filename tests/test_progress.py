"""The deployment log in Redis: bounded, whatever a build prints (real Redis)."""
from __future__ import annotations

import redis

from jobs.progress import MAX_LINE, DeployLog, read_lines


def test_a_build_that_prints_without_end_is_cut_but_our_own_lines_stay():
    r = redis.Redis.from_url("redis://127.0.0.1:6379/14", decode_responses=True)
    r.delete("t:log:1")
    log = DeployLog(r, "t:", 1, max_lines=100)
    for i in range(5000):
        log.line(f"spam {i}")
    log.line("x" * (MAX_LINE * 3))
    log.line("==> FAILED at build: it printed too much")
    lines = read_lines(r, "t:", 1)
    assert len(lines) == 102 and lines == log.buffer
    assert "output truncated: over 100 lines" in lines[100] and lines[101].endswith("==> FAILED at build: it printed too much")
    assert log.dropped == 4901
    short = DeployLog(r, "t:", 2)
    short.line("y" * (MAX_LINE + 10))
    assert short.buffer[0].endswith("[line truncated]") and len(short.buffer[0]) < MAX_LINE + 40
    r.delete("t:log:1", "t:log:2")


def test_colour_codes_and_control_characters_never_reach_the_log():
    from core.text import clean

    r = redis.Redis.from_url("redis://127.0.0.1:6379/14", decode_responses=True)
    log = DeployLog(r, "t:", 3)
    log.line("\x1b[91mERROR: boom\x1b[0m\tdone\x07 \x1b]0;title\x07ok")
    assert log.buffer[0].split(" ", 1)[1] == "ERROR: boom\tdone ok"
    assert clean("a\x1b[2Kb\x1b[1;32mc\rd\x00e") == "abcde"
    r.delete("t:log:3")


def test_streamed_text_becomes_whole_lines():
    from core.text import Lines

    lines = Lines(limit=20)
    assert lines.feed("Using ") == [] and lines.feed("CPython 3") == []
    assert lines.feed(".11\nnext\npart") == ["Using CPython 3.11", "next"]
    assert lines.flush() == ["part"] and lines.flush() == []
    assert lines.feed("x" * 21) == ["x" * 21], "a line with no end is cut at the limit"
