"""The Rasa runtime fixes keep Rasa's behaviour: same verdicts on action-server responses."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

import bot.runtime as runtime


@pytest.fixture
def remote_action() -> RemoteAction:
    return RemoteAction("action_answer_question", EndpointConfig("http://127.0.0.1:9/webhook"))


@pytest.mark.parametrize("response", [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "findings", "value": {"back_pain": "present"}}],
     "responses": [{"text": "hello", "custom": {"ask": "cauda_equina"}}]},
    {},
])
def test_valid_responses_pass(remote_action, response):
    assert remote_action._validate_action_result(response) is True


@pytest.mark.parametrize("response", [
    {"events": "not a list"},
    {"events": [{"event": "slot"}], "responses": "nope"},
    {"responses": [42]},
])
def test_invalid_responses_get_rasas_own_error(remote_action, response):
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        remote_action._validate_action_result(response)
    with pytest.raises(jsonschema.ValidationError):
        runtime._rasa_validate_action_result(remote_action, response)


def test_the_fix_is_installed_and_the_timeout_is_cut():
    assert RemoteAction._validate_action_result is runtime._validate_action_result
    import rasa.core.actions.action as rasa_action
    assert rasa_action.DEFAULT_REQUEST_TIMEOUT == runtime.ACTION_TIMEOUT_SECONDS <= 30
