"""Rasa's launcher takes the API token from the environment, never from the command line."""
import pytest

from bot.rasa_main import argv_with_token

RUN = ["rasa_main.py", "run", "--model", "models/triage.tar.gz"]


def test_the_token_is_added_inside_the_process_when_the_api_is_on():
    argv = argv_with_token([*RUN, "--enable-api"], {"RASA_API_TOKEN": "s3cret"})
    assert argv[-2:] == ["--auth-token", "s3cret"]


def test_without_a_token_the_api_is_refused_not_left_open():
    with pytest.raises(SystemExit, match="RASA_API_TOKEN"):
        argv_with_token([*RUN, "--enable-api"], {})


def test_without_the_api_nothing_changes():
    assert argv_with_token(RUN, {"RASA_API_TOKEN": "s3cret"}) == RUN
