import pytest

from storage.redaction import redact

REDACTED = [
    ("my name is john smith and my back hurts", "my name is [name] and my back hurts"),
    ("My name's Sarah O'Neil.", "My name's [name]."),
    ("Hi, I'm Sarah Jones, my calves cramp at night", "Hi, I'm [name], my calves cramp at night"),
    ("I am Priya", "I am [name]"),
    ("this is Tom speaking", "this is [name] speaking"),
    ("call me Liz", "call me [name]"),
    ("Dr Patel said it was sciatica", "Dr [name] said it was sciatica"),
    ("call me back on 07700 900123", "call me back on [phone]"),
    ("ring +44 7700 900123 or (020) 7946 0018", "ring [phone] or [phone]"),
    ("my number is 555-123-4567", "my number is [phone]"),
    ("+1 (555) 123 4567", "[phone]"),
    ("+33 1 23 45 67 89", "[phone]"),
    ("my NHS number is 943 476 5919", "my NHS number is [phone]"),
    ("email jo.bloggs+nhs@example.co.uk please", "email [email] please"),
    ("DOB 12/03/1980", "DOB [date]"),
    ("born on 3rd March 1975", "born on [date]"),
    ("I was born in 1962", "I was born in [date]"),
    ("date of birth: 4 May", "date of birth: [date]"),
    ("March 12, 1980", "[date]"),
    ("1980-03-12", "[date]"),
    ("12 Acacia Avenue is where I live", "[address] is where I live"),
    ("I live at 12 Acacia Avenue, Leeds LS1 4AP", "I live at [address]"),
    ("my address is flat 3, 22 baker street, london.", "my address is [address]."),
    ("postcode SW1A 1AA", "postcode [postcode]"),
    ("Springfield, IL 62704", "Springfield, [postcode]"),
    ("zip 90210", "[postcode]"),
]

UNCHANGED = [
    "I'm 45 and my back hurts",
    "I'm Sore all over",
    "I am Having trouble walking",
    "I'm OK thanks",
    "I'm in pain since 2019",
    "pain is 7/10 for 3 weeks, took 400 mg ibuprofen 3 times a day",
    "I walked 2 miles up the hill yesterday",
    "since 12/03 it got worse",
    "my calves cramp at night after 10000 steps",
    "call me back please",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("text,expected", REDACTED)
def test_personal_details_are_replaced_by_markers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_clinical_text_ages_doses_and_capitalised_feelings_stay(text):
    assert redact(text) == text


def test_empty_text_is_returned_as_is():
    assert redact("") == "" and redact(None) is None
