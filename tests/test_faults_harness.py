"""The fault suite's own judgement (scripts/faults): ledgers reconciled with synthetic
database and mailbox states, liveness gaps from synthetic probes, and the verdict.
No services: these run in milliseconds."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from scripts.faults import verdict
from scripts.faults.faults import FAULTS, by_name
from scripts.faults.ledger import SUBJECTS, Ledger
from scripts.faults.verdict import FaultResult, Probe, judge, liveness


def plain_check(stored: str, password: str) -> bool:
    """A stand-in for check_password_hash: the 'hash' is the password itself."""
    return stored == password


def clean() -> FaultResult:
    return FaultResult(
        "db-stopped",
        statuses={"200": 500, "302": 40, "503": 120},
        probe_statuses={"live": {"200": 30}, "ready": {"200": 10, "503": 20}},
        writes_acked=20,
        mails_owed=30,
        recovery_seconds=0.3,
    )


def mailbox(*entries: tuple[str, str]) -> Counter:
    return Counter((email, SUBJECTS[kind]) for email, kind in entries)


# --- the verdict -----------------------------------------------------------------------------


def test_a_clean_run_passes():
    result = clean()
    assert judge(result) == []
    assert verdict.report([result])["passed"] is True
    assert "| db-stopped |" in verdict.table([result]) and "| pass |" in verdict.table([result])


def test_a_500_fails_and_a_503_does_not():
    result = clean()
    result.statuses["500"] = 1
    assert judge(result) == ["1 server errors (5xx other than 503)"]


def test_a_500_from_a_probe_fails_too():
    result = clean()
    result.probe_statuses["ready"]["500"] = 2
    assert "2 server errors (5xx other than 503)" in judge(result)


def test_a_lost_write_fails():
    result = clean()
    result.writes_missing = ["registration of f1u3"]
    assert judge(result) == ["1 acknowledged writes missing"]


def test_a_lost_mail_fails():
    result = clean()
    result.mails_missing = ["1 x reset to a@example.com"]
    assert judge(result) == ["1 owed e-mails never arrived"]


def test_a_liveness_gap_of_2_5_seconds_fails():
    result = clean()
    result.live_failures, result.live_longest_gap = 5, 2.5
    assert judge(result) == ["liveness failed for 2.5 s (limit 2.0 s)"]


def test_a_liveness_gap_within_the_limit_passes():
    result = clean()
    result.live_failures, result.live_longest_gap = 2, 1.0
    assert judge(result) == []


def test_dropped_requests_fail_unless_the_fault_kills_the_worker():
    result = clean()
    result.statuses["dropped"] = 2
    assert judge(result) == ["2 requests dropped or timed out in flight"]
    result.dropped_excused = True
    assert judge(result) == []


def test_no_recovery_fails():
    result = clean()
    result.recovery_seconds = None
    assert judge(result) == ["did not recover"]


def test_the_json_report_names_every_failure():
    good, bad = clean(), clean()
    bad.name, bad.statuses = "redis-stopped", {"500": 3}
    report = json.loads(verdict.dumps([good, bad]))
    assert report["passed"] is False
    assert [f["failures"] for f in report["faults"]] == [[], ["3 server errors (5xx other than 503)"]]


# --- liveness from probes --------------------------------------------------------------------


def probes(*statuses: str, period: float = 0.5) -> list[Probe]:
    return [Probe(i * period, i * period + 0.01, status) for i, status in enumerate(statuses)]


def test_liveness_gap_runs_from_the_first_failure_to_the_next_success():
    # failures at 1.0, 1.5, 2.0, 2.5, 3.0; success again at 3.5
    samples = probes("200", "200", *["timeout"] * 5, "200")
    assert liveness(samples) == (5, 2.5)


def test_liveness_gap_still_open_at_the_end_runs_to_the_end():
    assert liveness(probes("200", "refused", "refused"), until=2.0) == (2, 1.5)


def test_probes_while_the_app_was_stopped_on_purpose_are_excused():
    samples = probes("200", "refused", "refused", "refused", "200")
    assert liveness(samples, excused=[(0.4, 1.6)]) == (0, 0.0)


# --- the ledger ------------------------------------------------------------------------------


def test_every_acknowledged_registration_found_passes():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    ledger.registration("u2", "u2@x.test", "pw2", "unknown")  # no answer: either way is right
    result = ledger.reconcile({"u1": "pw1"}, plain_check, mailbox(("u1@x.test", "verify")))
    assert (result.writes_acked, result.writes_missing, result.writes_phantom) == (1, [], [])
    assert (result.mails_owed, result.mails_missing) == (1, [])


def test_an_acknowledged_registration_missing_from_the_database_is_a_lost_write():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    result = ledger.reconcile({}, plain_check, mailbox(("u1@x.test", "verify")))
    assert result.writes_missing == ["registration of u1"]


def test_a_registration_kept_while_the_user_was_told_it_failed_is_a_phantom():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "refused")
    result = ledger.reconcile({"u1": "pw1"}, plain_check, Counter())
    assert result.writes_phantom == ["registration of u1"]
    assert result.mails_owed == 0  # a refused registration owes no mail


def test_an_acknowledged_password_change_rolled_back_is_a_lost_write():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    ledger.password_change("u1", "pw2", "acked")
    result = ledger.reconcile({"u1": "pw1"}, plain_check, mailbox(("u1@x.test", "verify")))
    assert result.writes_acked == 2
    assert result.writes_missing == ["password change 1 of u1"]


def test_a_password_change_with_no_answer_may_have_happened_or_not():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    ledger.password_change("u1", "pw2", "acked")
    ledger.password_change("u1", "pw3", "unknown")
    for stored in ("pw2", "pw3"):
        result = ledger.reconcile({"u1": stored}, plain_check, mailbox(("u1@x.test", "verify")))
        assert (result.writes_missing, result.writes_phantom) == ([], [])
    assert ledger.password_candidates("u1") == ["pw3", "pw2"]


def test_a_password_change_kept_while_the_user_was_told_it_failed_is_a_phantom():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    ledger.password_change("u1", "pw2", "refused")
    result = ledger.reconcile({"u1": "pw2"}, plain_check, mailbox(("u1@x.test", "verify")))
    assert result.writes_phantom == ["password change 1 of u1"]


def test_an_owed_mail_not_in_the_mailbox_is_lost_and_each_copy_counts():
    ledger = Ledger()
    ledger.registration("u1", "u1@x.test", "pw1", "acked")
    ledger.mail_owed("u1@x.test", "reset")
    ledger.mail_owed("u1@x.test", "reset")
    result = ledger.reconcile(
        {"u1": "pw1"}, plain_check, mailbox(("u1@x.test", "verify"), ("u1@x.test", "reset"))
    )
    assert result.mails_owed == 3
    assert result.mails_missing == ["1 x reset to u1@x.test"]


def test_a_verification_mail_does_not_pay_for_a_reset_mail():
    ledger = Ledger()
    ledger.mail_owed("u1@x.test", "reset")
    result = ledger.reconcile({}, plain_check, mailbox(("u1@x.test", "verify")))
    assert result.mails_missing == ["1 x reset to u1@x.test"]


# --- the fault list --------------------------------------------------------------------------


def test_the_fault_list_covers_every_kind_the_issue_names():
    names = {fault.name for fault in FAULTS}
    assert names == {
        "db-stopped",
        "db-connections-killed",
        "redis-stopped",
        "smtp-refused",
        "smtp-hung",
        "worker-killed",
        "table-locked",
        "sigterm",
        "start-without-db",
    }
    assert all(0 < fault.quick_seconds <= fault.seconds for fault in FAULTS)


def test_an_unknown_fault_name_is_refused_with_the_known_ones():
    with pytest.raises(SystemExit, match=r"unknown fault\(s\): db-stoped; known: db-stopped"):
        by_name(["db-stoped"])
