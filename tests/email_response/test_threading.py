"""Threading: references first, then the case number in the subject, never into another customer's case."""

from __future__ import annotations

from email_response.threading import (
    KnownMessage,
    ThreadReason,
    case_numbers_in,
    case_tag,
    referenced_message_ids,
    thread_message,
)

from .conftest import parsed

ANN = "ann@example.org"
MALLORY = "mallory@example.net"


def reply(sender: str, subject: str = "Re: Printer", in_reply_to: str = "", references: str = ""):
    headers = f"From: {sender}\nSubject: {subject}\nMessage-ID: <new@x>\n"
    if in_reply_to:
        headers += f"In-Reply-To: {in_reply_to}\n"
    if references:
        headers += f"References: {references}\n"
    return parsed(headers + "\nbody\n")


def test_in_reply_to_a_known_message_joins_its_case() -> None:
    known = {"<ack-7@help>": KnownMessage(7, {ANN})}
    decision = thread_message(reply(ANN, in_reply_to="<ack-7@help>"), known)
    assert (decision.case_id, decision.reason, decision.matched) == (7, ThreadReason.IN_REPLY_TO, "<ack-7@help>")


def test_references_are_tried_newest_first() -> None:
    known = {"<a@x>": (1, {ANN}), "<c@x>": (3, {ANN})}
    message = reply(ANN, in_reply_to="<unknown@x>", references="<a@x> <b@x> <c@x>")
    assert referenced_message_ids(message) == ["<unknown@x>", "<c@x>", "<b@x>", "<a@x>"]
    decision = thread_message(message, known)
    assert (decision.case_id, decision.reason) == (3, ThreadReason.REFERENCES)


def test_a_case_number_in_the_subject_is_the_fallback() -> None:
    decision = thread_message(reply(ANN, subject="Re: Printer [CS-000042]"), {}, {42: {ANN}})
    assert (decision.case_id, decision.reason, decision.matched) == (
        42,
        ThreadReason.SUBJECT_CASE_NUMBER,
        "[CS-000042]",
    )


def test_no_reference_and_no_number_makes_a_new_case() -> None:
    decision = thread_message(reply(ANN, subject="Printer broken"), {})
    assert (decision.case_id, decision.reason, decision.refused_case_ids) == (None, ThreadReason.NEW_CASE, ())


def test_a_forged_reference_to_another_customers_case_does_not_attach() -> None:
    known = {"<ack-7@help>": KnownMessage(7, {ANN})}
    decision = thread_message(reply(MALLORY, in_reply_to="<ack-7@help>", subject="Re: [CS-000007]"), known, {7: {ANN}})
    assert decision.case_id is None
    assert decision.reason is ThreadReason.NEW_CASE
    assert decision.refused_case_ids == (7,)


def test_a_participant_other_than_the_customer_may_reply() -> None:
    colleague = "bob@example.org"
    known = {"<ack-7@help>": KnownMessage(7, {ANN, colleague})}
    assert thread_message(reply(colleague, in_reply_to="<ack-7@help>"), known).case_id == 7


def test_a_refused_reference_falls_through_to_an_allowed_one() -> None:
    known = {"<theirs@x>": (9, {MALLORY}), "<ours@x>": (5, {ANN})}
    decision = thread_message(reply(ANN, in_reply_to="<theirs@x>", references="<ours@x>"), known)
    assert (decision.case_id, decision.refused_case_ids) == (5, (9,))


def test_a_number_for_a_case_that_does_not_exist_is_ignored() -> None:
    assert thread_message(reply(ANN, subject="[CS-000999]"), {}, {}).case_id is None


def test_case_tags() -> None:
    assert case_tag(123) == "[CS-000123]"
    assert case_numbers_in("Re: [cs-000123] and [ CS-7 ] again [CS-000123] [CS-0]") == [123, 7]
    assert case_numbers_in("CS-000123 without brackets") == []
