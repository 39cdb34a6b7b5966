"""ClinicalFindingsExtractor: the NLU component that reads findings out of every message.

It runs after SpacyNLP (which loads the project's pipeline by path, bot/config.yml) and turns the
spaCy doc into entities:
  finding  value = finding id, role = present | absent | past | hypothetical | other
  answer   value = affirm | qualified_affirm | deny | unsure (how a yes/no reply starts)
  topic    value = knowledge-graph node a question is about
  course   value = long | short: how long a pain has lasted, as the message says (no finding named)
Deterministic: no training. DIET only classifies intents.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import runtime  # noqa: F401  (applies the action-server timeout in the Rasa server)
from knowledge.nlp.pipeline import Analysis, analyse, analyse_doc, check_built
from knowledge.turns import PATIENTS_OWN, read_intent

EXTRACTOR = "ClinicalFindingsExtractor"


def entities_for(analysis: Analysis) -> List[Dict[Text, Any]]:
    entities: List[Dict[Text, Any]] = []
    for mention in analysis.mentions:
        entity = {"entity": "finding", "value": mention.finding, "role": mention.status, "start": mention.start,
                  "end": mention.end, "confidence_entity": 1.0, "extractor": EXTRACTOR}
        if mention.assertion is not None:
            entity["assertion"] = mention.as_dict()["assertion"]
        entities.append(entity)
    if analysis.answer:
        entities.append({"entity": "answer", "value": analysis.answer, "start": 0, "end": 0,
                         "confidence_entity": 1.0, "extractor": EXTRACTOR})
    if analysis.course:
        entities.append({"entity": "course", "value": analysis.course, "start": 0, "end": 0,
                         "confidence_entity": 1.0, "extractor": EXTRACTOR})
    for topic in analysis.topics:
        entities.append({"entity": "topic", "value": topic, "start": 0, "end": 0, "confidence_entity": 1.0,
                         "extractor": EXTRACTOR})
    return entities


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class ClinicalFindingsExtractor(GraphComponent, EntityExtractorMixin):
    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "ClinicalFindingsExtractor":
        check_built()  # SpacyNLP loads the folder as it is: a stale one would read old lexicon rules
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            doc = message.get(SPACY_DOCS[TEXT])
            text = message.get(TEXT) or ""
            analysis = analyse_doc(doc) if doc is not None else analyse(text)
            message.set(ENTITIES, message.get(ENTITIES, []) + entities_for(analysis), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentReader(GraphComponent):
    """Runs last in the NLU pipeline: the classifier's intent goes through
    knowledge.turns.read_intent, so rules, forms and the policy all see the same corrected
    intent (a "restart" with no words asking for one is read as something said about the symptoms)."""

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "IntentReader":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name = intent.get(INTENT_NAME_KEY)
            entities = message.get(ENTITIES) or []
            findings = any(e.get("entity") == "finding" and e.get("role") in PATIENTS_OWN for e in entities)
            answer = next((e.get("value") for e in entities if e.get("entity") == "answer"), None)
            corrected = read_intent(name, message.get(TEXT) or "", findings=findings, answer=answer)
            if corrected != name:
                message.set(INTENT, {**intent, INTENT_NAME_KEY: corrected}, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
