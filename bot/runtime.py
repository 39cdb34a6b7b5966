"""Process-wide runtime settings for the Rasa server, applied on import of the bot's components.

Rasa 3.6 waits up to 5 minutes for the action server. A patient must not wait that long, so the
timeout is cut (CLINIC_ACTION_TIMEOUT_SECONDS, default 10); when it expires the policy answers with
utter_degraded instead (bot/flow.py).
"""
import os

import rasa.core.actions.action as rasa_action
import rasa.utils.endpoints as rasa_endpoints

ACTION_TIMEOUT_SECONDS = int(os.environ.get("CLINIC_ACTION_TIMEOUT_SECONDS", "10") or 10)

# Both modules read this constant at call time (aiohttp ClientTimeout and the action request).
rasa_action.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
rasa_endpoints.DEFAULT_REQUEST_TIMEOUT = ACTION_TIMEOUT_SECONDS
