"""An adapter for Microsoft Presidio's analyzer, for teams that installed it and
a spaCy model themselves (``BFF_PII_RECOGNIZERS=presidio``).

It is loaded only when named, and only when ``presidio-analyzer`` and one of the
English spaCy pipelines are installed; nothing is downloaded. Presidio's entity
types map onto the BFF's kinds (``PERSON`` is ``NAME``, ``LOCATION`` is
``ADDRESS``, ...); its findings join the built-in ones, which keep priority.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from bff.pii.recognizer import Finding

ENTITY_KINDS: Mapping[str, str] = {
    "PERSON": "NAME",
    "LOCATION": "ADDRESS",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP",
}
MODELS = ("en_core_web_lg", "en_core_web_trf", "en_core_web_md", "en_core_web_sm")
"""The spaCy pipelines looked for, in order of preference."""


class PresidioRecognizer:
    """The findings of a Presidio ``AnalyzerEngine`` scoring at least ``min_score``."""

    def __init__(
        self,
        analyzer: Any,
        *,
        language: str = "en",
        entities: Mapping[str, str] = ENTITY_KINDS,
        min_score: float = 0.5,
    ) -> None:
        self.analyzer = analyzer
        self.language = language
        self.entities = dict(entities)
        self.min_score = min_score

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self.entities.values())

    def find(self, text: str) -> Iterable[Finding]:
        results = self.analyzer.analyze(
            text=text, language=self.language, entities=list(self.entities)
        )
        for result in results:
            kind = self.entities.get(result.entity_type)
            if kind is not None and result.score >= self.min_score:
                yield Finding(int(result.start), int(result.end), kind)


def presidio_recognizer() -> PresidioRecognizer:
    """A PresidioRecognizer on the best installed English spaCy pipeline; ValueError
    when the package or a pipeline is missing (nothing is downloaded)."""
    try:
        analyzer_module = importlib.import_module("presidio_analyzer")
        nlp_module = importlib.import_module("presidio_analyzer.nlp_engine")
        spacy_util = importlib.import_module("spacy.util")
    except ImportError:
        raise ValueError(
            "the Presidio adapter needs presidio-analyzer and spaCy: "
            "pip install presidio-analyzer, then a model such as en_core_web_lg"
        ) from None
    model = next((m for m in MODELS if spacy_util.is_package(m)), None)
    if model is None:
        raise ValueError(f"no spaCy English pipeline is installed (one of {', '.join(MODELS)})")
    configuration = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": model}],
    }
    engine = nlp_module.NlpEngineProvider(nlp_configuration=configuration).create_engine()
    analyzer = analyzer_module.AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
    return PresidioRecognizer(analyzer)
