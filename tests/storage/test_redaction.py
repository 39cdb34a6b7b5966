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
    ("Springfield, IL 62704", "[address]"),
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
    ("i live on station road in ilkley", "i live on [address]"),
    ("5 church lane, little snoring nr21 0aa", "[address]"),
]

# A whole address is one span: flat, building, street (with or without a number or street word), town,
# postcode, in the UK, Ireland, the US and the continent.
WHOLE_ADDRESSES = [
    ("please post it to 27 Moorside Crescent, Halifax HX3 5TT thanks", "please post it to [address] thanks"),
    ("room 5, 62 Carrick Way, Glasgow G12 8QQ", "[address]"),
    ("she's at Ash Lodge, Mill Road, Great Ayton, Middlesbrough TS9 6AB", "she's at [address]"),
    ("Unit 12, Brookfield Mill, Huddersfield HD1 3LE is my work", "[address] is my work"),
    ("my flat is 4/2 Dalry Road, Edinburgh EH11 2BU", "my flat is [address]"),
    ("deliver to 12 Heol y Coed, Cardiff CF14 6HG", "deliver to [address]"),
    ("my nan lives 3 Parkside Cottages, Otley LS21 1AA", "my nan lives [address]"),
    ("he's from Sheffield S10 2TN", "he's from [address]"),
    ("we moved to apartment 9, 310 Elm St, Portland, OR 97205 last year", "we moved to [address] last year"),
    ("our cottage: 8 Bothar Mor, Galway H91 K2XF", "our cottage: [address]"),
    ("I'm staying at Prinsengracht 14, 1015 DJ Amsterdam", "I'm staying at [address]"),
    ("c/o 40 Via Roma, Milano 20121", "c/o [address]"),
    ("14 Rue Victor Hugo, 75016 Paris, France", "[address]"),
    ("we live on Hawthorn Avenue in Selby and the hill kills my calf", "we live on [address] and the hill kills my calf"),
    ("i live at 5 mill lane otley.", "i live at [address]."),
]

# Names in the places people put them: labels, brackets, sign-offs, relations, initials.
NAMES_IN_CONTEXT = [
    ("Mum (Brenda) fell over, hip and back sore", "Mum ([name]) fell over, hip and back sore"),
    ("Priyanka (my sister) has a hot red calf", "[name] (my sister) has a hot red calf"),
    ("my step daughter is Kezia, she's 12", "my step daughter is [name], she's 12"),
    ("my osteopath is Rhodri, he thinks it's a disc", "my osteopath is [name], he thinks it's a disc"),
    ("she is Folasade, 44, and her back locked", "she is [name], 44, and her back locked"),
    ("Granny Eunice has a swollen ankle", "Granny [name] has a swollen ankle"),
    ("please invoice: cardholder P K Okafor", "please invoice: cardholder [name]"),
    ("letter for Mr T. Haworth about my scan", "letter for Mr [name] about my scan"),
    ("Surname OYELARAN, forename Tobi", "Surname [name], forename [name]"),
    ("policy holder is member Rosalind Achebe-Hart", "policy holder is member [name]"),
    ("my calf is still tight. Thanks, Ignatius. Speak soon", "my calf is still tight. Thanks, [name]. Speak soon"),
    ("my calf hurts when I run. Cosmo", "my calf hurts when I run. [name]"),
    ("ring the mobile any time, Wilhelmina Strand.", "ring the mobile any time, [name]."),
    ("refund please (Eoghan Quigley)", "refund please ([name])"),
    ("hi, Kit here from the Pemberton family, back pain", "hi, [name] here from the [name] family, back pain"),
    ("name is Ottoline Brisk", "name is [name]"),
    ("Name: Desmond Ware DOB 02/02/1950", "Name: [name] DOB [date]"),
    ("im chidera nwosu, 29, sore back", "im [name], 29, sore back"),
    ("asking for Oyinda, my gran, her back", "asking for [name], my gran, her back"),
    ("Bongani is my physio and he says rest", "[name] is my physio and he says rest"),
    ("Ruairi's dad here, he tore his calf", "[name]'s dad here, he tore his calf"),
]

# Numbers that are identities by their label, wherever the label sits.
IDENTITIES = [
    ("my hosp no. at Jimmy's is J4471902", "my hosp no. at Jimmy's is [id]"),
    ("bupa ref for the claim is BU/77813342", "bupa ref for the claim is [id]"),
    ("the EHIC number 80756123456789012345 is on my card", "the EHIC number [id] is on my card"),
    ("my mobile number is 07700 900882", "my mobile number is [phone]"),
    ("sort code 30-96-26, sorry, 30-96-62, acct 12345678", "sort code [bank], sorry, [bank], acct [bank]"),
    ("DOB 3 4 1962", "DOB [date]"),
    ("dob: 050762", "dob: [date]"),
    ("born 21 mai 1980 in Lyon", "born [date] in Lyon"),
    ("geboren 4. Oktober 1966, Rücken", "geboren [date], Rücken"),
    ("driving licence HUDSO804021AB9XY", "driving licence [id]"),
    ("use the card ending in 7719, CVC 402", "use the card ending in [card], CVC [card]"),
    ("swift code NWBKGB2L for the transfer", "swift code [bank] for the transfer"),
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
    # feelings, nationalities and conditions in a name's place; routes and trips that are not addresses
    "Im Hopeless at stretching, I'm Exhausted",
    "I'm Polish, my back hurts. I'm Gonna try the exercises",
    "She is Pregnant, 30 weeks",
    "my mum (Type 2 diabetic) has a swollen calf",
    "Doc thinks its Osgood-Schlatter",
    "a 3 hr drive then a 2 mile walk, calf aching",
    "walking the Cleveland Way next month",
    "my MRN at St Luke's is on the letter",
    "Patient Reported Outcome: pain 6/10",
    "the doctor lol",
    "its different tho, the tingling",
    "is there a good pub near here",
    "Leeds, my home town, is hilly",
    "the course is ending in 2 weeks",
]

# Round 3 (issue 13): classes of misses and over-redaction found on the retired second blind split.
ROUND_3_NAMES = [
    ("my name is kavita james and my back is sore", "my name is [name] and my back is sore"),   # surname is also a first name
    ("says her back hurts. She's Hope Ashdown d.o.b 1/2/1990", "says her back hurts. She's [name] d.o.b [date]"),
    ("name as on passport: KIM MIN-SEO", "name as on passport: [name]"),
    ("card holder? name on it MICHAEL DUNN", "card holder? name on it [name]"),
    ("refund name A. Okafor", "refund name [name]"),
    ("the site manager contact is Joy, 0113 496 0123", "the site manager contact is [name], [phone]"),
    ("shin splints I think - Drew (they/them)", "shin splints I think - [name] (they/them)"),
    ("it's the dad of Keziah Blunt, she's 15", "it's the dad of [name], she's 15"),
    ("merci, Élise Durand, mal au dos", "merci, [name], mal au dos"),
    ("please ring brother-in-law Pat after 6", "please ring brother-in-law [name] after 6"),
    ("staying till friday. Máire Ní Bhaoill", "staying till friday. [name]"),
    ("knee gave way on the stairs - lily", "knee gave way on the stairs - [name]"),
    ("ciara mccann, 07700 900314, stiff neck", "[name], [phone], stiff neck"),
]
ROUND_3_NUMBERS_AND_PLACES = [
    ("my unit number was written as RX-8812034 on the form", "my unit number was written as [id] on the form"),
    ("claim ref BUPA-UK-7781230 for the scan", "claim ref [id] for the scan"),
    ("insurance member no HX 44 18 90 27, physio?", "insurance member no [id], physio?"),
    ("policy number CGN 4411 0923 B. neck pain", "policy number [id]. neck pain"),
    ("we're on Mill Road, over the bakery, flat 3b", "we're on [address], over the bakery, [address]"),
    ("post it to 7 Albion Quay, Bristol BS1 6XL please", "post it to [address] please"),
]
# Clinical words that looked like personal details to an earlier version.
ROUND_3_KEPT = [
    "Address: 4 Oak Rise, Ripon HG4 1AA Next of kin: Carol",          # only the address goes, not the next label
    "Marfan here, tall and my back aches",                              # an eponymous condition before "here"
    "Dr Ray | GP | Riverside Practice | 0113 496 0000",                # a practice is not a surname
    "I'm Dutch student and my calf is tight",                           # a nationality, not a name
    "flew in on 3 June, 14 hour flight, calf swollen",                  # a flight's hours are not a year
    "ALL CAPS BECAUSE MY EYES ARE BAD. LEGS NUMB AT NIGHT 3 WEEKS",     # "NI" inside NIGHT is not an NI number
    "I lie flat 2 hours a day for my back",                             # "flat 2 hours" is a posture, no street
]


def _kept_parts(text):
    return [part for part in ("Next of kin: Carol", "Marfan", "Riverside Practice", "Dutch student",
                              "3 June, 14 hour flight", "NIGHT 3 WEEKS", "flat 2 hours") if part in text]


@pytest.mark.parametrize("text,expected", ROUND_3_NAMES + ROUND_3_NUMBERS_AND_PLACES)
def test_round_3_names_numbers_and_places_are_hidden(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text", ROUND_3_KEPT)
def test_round_3_clinical_words_beside_personal_details_survive(text):
    redacted = redact(text)
    assert _kept_parts(text) and all(part in redacted for part in _kept_parts(text))


@pytest.mark.parametrize("text,expected", REDACTED)
def test_personal_details_are_replaced_by_markers(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text,expected", WHOLE_ADDRESSES)
def test_an_address_is_hidden_whole_with_its_flat_building_town_and_postcode(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text,expected", NAMES_IN_CONTEXT)
def test_names_are_found_by_where_they_stand(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize("text,expected", IDENTITIES)
def test_identity_bank_and_birth_details_are_found_from_their_labels(text, expected):
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
