"""The fault suite counts the operator's contact messages as DESIGN allows them."""

from __future__ import annotations

from cachalot_testing.chaos import REPEAT_NOTICE_START, Report, count_contacts


def test_a_message_sent_again_under_the_notifiers_repeat_notice_is_no_failure() -> None:
    """fresh11e: a notifier killed between Telegram's answer and its record sends the message
    again, headed by its "possibly a repeat" notice (at least once, marked); the suite
    counted that as "twice" and failed the run."""
    report = Report(name="kills")
    texts = ["lead m1", f"{REPEAT_NOTICE_START}: ...\nlead m1", "lead m2"]
    count_contacts(report, ["m1", "m2"], texts)
    assert (report.contact_delivered, report.contact_twice) == (2, 0)
    assert report.contact_repeats_marked == 1
    assert report.holds()  # nothing else counted against it


def test_a_message_sent_twice_with_no_notice_is_counted_twice() -> None:
    report = Report(name="kills")
    count_contacts(report, ["m1"], ["lead m1", "lead m1"])
    assert (report.contact_twice, report.contact_repeats_marked) == (1, 0)
