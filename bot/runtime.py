"""Process-wide runtime settings and fixes for the Rasa server, applied on import of the bot's
components (bot/components.py and bot/policy.py import this module).

1. Rasa 3.6 waits up to 5 minutes for the action server. A patient must not wait that long, so the
   timeout is cut (CLINIC_ACTION_TIMEOUT_SECONDS, default 10); when it expires the policy answers
   with utter_degraded instead (bot/flow.py).
2. Rasa checks every action-server response with jsonschema.validate(), which first validates the
   schema itself against its meta-schema: ~20 ms of CPU per action call, about a third of a turn
   (benchmarks/rasa_latency.py). A validator built once gives the same verdicts; an invalid response
   still goes through Rasa's own method, so the error is Rasa's.
3. Rasa wraps every tracker store in a FailSafeTrackerStore. When the database stays down past
   bot/stores.py's retries, it would read no conversation (the patient's answer read without its
   question) and save to this process's memory, never to the database. The turn fails instead:
   the channel then answers with its fallback (the advice for any emergency in the message, the
   emergency line, "please send it again") and the stored conversation stays whole.
"""
from functools import lru_cache

import jsonschema
import rasa.core.actions.action as rasa_action
import rasa.utils.endpoints as rasa_endpoints
from rasa.core.tracker_store import FailSafeTrackerStore

from clinic.settings import get_settings

ACTION_TIMEOUT_SECONDS = get_settings().action_timeout_seconds

# Both modules read this constant at call time (aiohttp ClientTimeout and the action request).
rasa_action.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
rasa_endpoints.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS

_rasa_validate_action_result = rasa_action.RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def _action_response_validator() -> jsonschema.protocols.Validator:
    schema = rasa_action.RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def _validate_action_result(self: rasa_action.RemoteAction, result: dict) -> bool:
    if _action_response_validator().is_valid(result):
        return True
    return _rasa_validate_action_result(self, result)  # raises Rasa's ValidationError


if rasa_action.RemoteAction._validate_action_result is _rasa_validate_action_result:
    rasa_action.RemoteAction._validate_action_result = _validate_action_result


def _primary_store_only(name: str):
    async def call(self: FailSafeTrackerStore, *args):
        return await getattr(self._tracker_store, name)(*args)

    call.__name__ = name
    return call


for _name in ("retrieve", "retrieve_full_tracker", "save"):
    setattr(FailSafeTrackerStore, _name, _primary_store_only(_name))
