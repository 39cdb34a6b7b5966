import logging
import socket

import pytest

from storage import redaction
from storage.redaction import find_email, find_phone_number, redact

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
    ("my NHS number is 943 476 5919", "my NHS number is [id]"),
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
    # Issue 13: bare names at the start, lower-case introductions, third parties' names
    ("Sarah Jones, 52, my calf has been swollen", "[name], 52, my calf has been swollen"),
    ("im sarah, my lower back hurts", "im [name], my lower back hurts"),
    ("its for my son Tom hes 14", "its for my son [name] hes 14"),
    ("my husband dave cant get out of bed", "my husband [name] cant get out of bed"),
    ("The physio, Sarah, said to ice it", "The physio, [name], said to ice it"),
    ("hi kev here, done my back in", "hi [name] here, done my back in"),
    ("thanks, Aisha", "thanks, [name]"),
    # identity numbers: SSN, NI number, hospital/MRN, insurance, passport
    ("SSN 536-22-8147, calf cramps", "SSN [id], calf cramps"),
    ("ni number jk551290b for the fit note", "ni number [id] for the fit note"),
    ("hospital number RX1234567, fracture clinic", "hospital number [id], fracture clinic"),
    ("my mrn is A7781203", "my mrn is [id]"),
    ("Bupa membership number 8823 4410 09 - physio?", "Bupa membership number [id] - physio?"),
    ("Policy no. PPH-2231987 with AXA", "Policy no. [id] with AXA"),
    ("passport number 533401122", "passport number [id]"),
    # money: card (Luhn), IBAN, sort code and account
    ("card 4031 3721 5901 0923 exp 09/27", "card [card] exp 09/27"),
    ("IBAN GB29 NWBK 6016 1331 9268 19 please", "IBAN [bank] please"),
    ("sort code 20-00-00 account 55779911", "sort code [bank] account [bank]"),
    # streets with no house number
    ("we're on Elm Grove, the blue door", "we're on [address], the blue door"),
    ("i live on station road in ilkley", "i live on [address] in ilkley"),
    ("5 church lane, little snoring nr21 0aa", "[address], little snoring [postcode]"),
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
    # clinical words, eponyms, drugs, numbers that look like dates or phone numbers
    "Achilles tendon feels like it snapped at 6pm",
    "I've got a Baker's cyst behind my right knee",
    "Thompson test ok, Homan's sign negative, Raynaud's in my hands",
    "Mark on my calf like a bruise, on aspirin 75mg",
    "co-codamol 30/500 every 4 hours, BP 150/95, temp 38.2, pain 8/10",
    "L5/S1 disc on the MRI in 2019, T12-L2 fusion, 3/52 of back pain",
    "Naproxen 500mg, Pregabalin 75mg, Amitriptyline 10mg at night",
    "I walked 10000 steps, 30 miles a week, 5 a side, 14 stone, 11 hour flight",
    "Dr Google says its a DVT lol",
]


@pytest.mark.parametrize("text,expected", REDACTED)
def test_personal_details_are_replaced_by_markers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_clinical_text_ages_doses_and_capitalised_feelings_stay(text):
    assert redact(text) == text


def test_empty_text_is_returned_as_is():
    assert redact("") == "" and redact(None) is None


def test_the_clinic_s_analyser_is_presidio_and_it_finds_what_only_checksums_can():
    # A ten-digit number is an NHS number only when its check digit is right.
    assert redaction.engine_name() == "presidio"
    assert redact("reference 9434765919 today") == "reference [id] today"


def test_the_analyser_never_reaches_the_network(monkeypatch):
    """Presidio, spaCy and tldextract work from local files only (emails too)."""
    def refuse(*args, **kwargs):
        raise AssertionError("redaction tried to open a network connection")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(redaction, "_state", "unloaded")
    monkeypatch.setattr(redaction, "_analyzer", None)
    assert redact("mail k.osei@nhs.net or 07700 900123") == "mail [email] or [phone]"
    assert redaction.engine_name() == "presidio"


def test_without_presidio_the_project_rules_still_redact_and_say_so_once(monkeypatch, caplog):
    def broken():
        raise ImportError("no presidio here")
    monkeypatch.setattr(redaction.pii_engine, "build_analyzer", broken)
    monkeypatch.setattr(redaction, "_state", "unloaded")
    monkeypatch.setattr(redaction, "_analyzer", None)
    with caplog.at_level(logging.WARNING, logger="storage.redaction"):
        assert redact("Sarah Jones, 52, call 07700 900123") == "[name], 52, call [phone]"
        assert redact("NHS no 943 476 5919") == "NHS no [id]"
    assert redaction.engine_name() == "rules"
    assert len([r for r in caplog.records if "Presidio could not be loaded" in r.message]) == 1


def test_handoff_helpers_find_the_contact_details_redaction_hides():
    assert find_phone_number("ring 07700 900123 after 5") == "07700 900123"
    assert find_email("at dave_1975@hotmail.co.uk thanks") == "dave_1975@hotmail.co.uk"
    assert find_phone_number("pain 8/10 for 3 weeks") is None
