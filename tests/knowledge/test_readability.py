"""Everything the bot can say reads at a plain level (Flesch-Kincaid grade, textstat 0.7.8):
no message above grade 9. `make bench-readability` reports the median, p90 and worst five
against the grade-7 target."""
import pytest

from testing.readability import every_message

MAX_GRADE = 9
MESSAGES = every_message()


def test_every_kind_of_message_is_gathered():
    kinds = {message.where.split()[0] for message in MESSAGES}
    assert {"responses.yml", "question", "which", "escalation", "outcome", "explanation", "proxy"} <= kinds
    assert len(MESSAGES) > 100


@pytest.mark.parametrize("message", MESSAGES, ids=[message.where for message in MESSAGES])
def test_no_message_reads_above_grade_nine(message):
    assert message.grade <= MAX_GRADE, f"grade {message.grade:.1f}: {message.plain}"


def test_a_long_winding_sentence_would_fail():
    from testing.readability import Message

    winding = Message("example", "Notwithstanding the aforementioned considerations, individuals experiencing "
                      "persistent musculoskeletal discomfort should consider comprehensive multidisciplinary "
                      "evaluation incorporating neurophysiological assessment methodologies.")
    assert winding.grade > MAX_GRADE


@pytest.mark.parametrize("message", MESSAGES, ids=[message.where for message in MESSAGES])
def test_no_message_is_longer_than_a_phone_message_on_any_channel(message):
    from knowledge.messages import MAX_MESSAGE_CHARS

    assert len(message.text) <= MAX_MESSAGE_CHARS, f"{len(message.text)} characters: {message.where}"
