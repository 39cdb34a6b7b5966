"""TriagePolicy: the deterministic part of the dialogue (escalation, never silent), see bot/flow.py.

It ranks above RulePolicy (priority 7 vs 6) and marks its predictions as Rasa marks loop
predictions, so an emergency found in any message wins over whatever a rule or form would do next. It learns nothing; it reads the conversation's events on every turn.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from bot import runtime  # noqa: F401  (applies the action-server timeout)
from bot.flow import decide


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=False)
class TriagePolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"priority": 7}

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource, execution_context,
             **kwargs: Any) -> "TriagePolicy":
        return cls(config, model_storage, resource, execution_context)

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        custom_actions = set(domain.user_actions) | set(domain.form_names)
        decision = decide([event.as_dict() for event in tracker.events], custom_actions)
        if decision is None or decision.action not in domain.action_names_or_texts:
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(decision.action)] = 1.0
        optional_events = [ActiveLoop(None), SlotSet("requested_slot", None)] if decision.end_screen else []
        # Rasa's ensemble only weighs "no user" predictions against each other when any exists
        # (RulePolicy marks form continuations so); marking ours alike lets priority decide.
        return self._prediction(probabilities, optional_events=optional_events, is_no_user_prediction=True)
