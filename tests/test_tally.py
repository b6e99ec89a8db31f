"""How a stage's outcomes become its summary: the one count the runner makes per batch."""

from tracepile.execution.text_backend import model_calls_note
from tracepile.summary import RETRY_NEXT_RUN, StageSummary, Tally


def _report() -> StageSummary:
    return StageSummary(stage="s", reads="r", writes=[])


def test_kept_dropped_and_retried_outcomes_become_counts_and_reasons() -> None:
    tally = Tally(kept="verified", kept_as="verified", retried=frozenset({"backend_error"}))
    report = _report()
    report.tally(tally, {("verified", None): 5, ("wrong_answer", None): 2, ("backend_error", None): 1})
    report.tally(tally, {("verified", None): 1, ("tautology", None): 3})
    assert report.counts == {"verified": 6, "rejected": 5, RETRY_NEXT_RUN: 1}
    # a retried row says why it is tried again; the reasons are sorted by name
    assert report.reasons == {"backend_error": 1, "tautology": 3, "wrong_answer": 2}
    assert list(report.reasons) == sorted(report.reasons)


def test_counts_split_by_a_column_and_named_by_outcome() -> None:
    by_kind = Tally(kept="kept", kept_as="kept_{by}", dropped_as="dropped_{by}", by="rewrite_kind")
    report = _report()
    report.tally(by_kind, {("kept", "rename"): 3, ("differs", "rename"): 1, ("differs", "reorder"): 2})
    assert report.counts == {"dropped_rename": 1, "dropped_reorder": 2, "kept_rename": 3}
    assert report.reasons == {"differs": 3}

    statuses = Tally(
        kept="ok",
        kept_as="status_{outcome}",
        dropped_as="status_{outcome}",
        retried=frozenset({"internal_error"}),
        total_as="runs",
        reasons=False,
    )
    report = _report()
    report.tally(statuses, {("ok", None): 7, ("timeout", None): 2, ("internal_error", None): 1})
    assert report.counts == {"runs": 10, "status_ok": 7, "status_timeout": 2, RETRY_NEXT_RUN: 1}
    assert report.reasons == {"internal_error": 1}  # statuses are not reasons; a retried run is


def test_aside_outcomes_are_counted_but_neither_reasons_nor_gated() -> None:
    tally = Tally(kept="program", kept_as="programs_parsed", aside={"blank": "blank_lines"}, total_as="lines")
    report = _report()
    report.tally(tally, {("program", None): 4, ("blank", None): 2, ("bad_json", None): 1})
    assert report.counts == {"lines": 7, "blank_lines": 2, "rejected": 1, "programs_parsed": 4}
    assert report.reasons == {"bad_json": 1}
    assert [tally.gated(o) for o in ("program", "blank", "bad_json")] == [True, False, True]
    # the counts every run shows, zero or not: those whose names do not depend on a value
    assert tally.names() == ["lines", "programs_parsed", "rejected", "blank_lines"]
    assert Tally(kept="k", kept_as="{by}_rows", by="kind").names() == ["rejected"]


def test_a_served_models_calls_are_told_by_latency_percentiles_tokens_per_second_and_concurrency() -> None:
    latencies = [float(s) for s in range(1, 101)]  # 1 s .. 100 s
    note = model_calls_note(latencies, [10] * 100, wall_seconds=2525.0, concurrency=4)
    assert note.startswith("100 requests; latency p50 50.5 s, p90 90.1 s, p99 99.0 s; ")
    # per request 10 tokens over its seconds, the median of those; 1,000 tokens over 2,525 s;
    # 5,050 s of requests over 2,525 s of wall time: two in flight on average
    assert "0.2 tokens/s per request (median), 0.4 tokens/s in all; 2.0 requests in flight" in note
    assert note.endswith("(up to 4)")
    assert model_calls_note([2.0], [8], 2.0, 1).startswith("1 requests; latency p50 2.0 s, p90 2.0 s")
