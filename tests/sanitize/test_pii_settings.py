"""BFF_PII_KINDS, BFF_PII_PHONE_REGIONS and BFF_PII_RECOGNIZERS: good values take
effect, bad ones are one clear line each; a team's own recognizer and the Presidio
adapter (with a stand-in for Presidio and spaCy) load through the settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from bff.cli import main
from bff.config import load_settings
from bff.exceptions import ConfigError
from bff.pii import BUILT_IN_KINDS, Redactor, build_scanner
from bff.testing.server import SimulatorServer, free_port
from tests.api.helpers import mutate
from tests.conftest import BffFactory
from tests.observe.helpers import Scrape, eventually
from tests.sanitize.helpers import assert_nothing_sent, chat

OWN = "tests.sanitize.own_recognizer"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("BFF_", "OPENAI_")):
            monkeypatch.delenv(name)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is downloaded: no connection is opened and no process started."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"tried to reach out: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)


def _redacted(text: str, **env: str) -> tuple[str, dict[str, int]]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        redactor = Redactor(load_settings().pii_scanner)
    return redactor.redact(text), dict(redactor.counts)


TEXT = "Mail ann@example.com, IBAN DE89370400440532013000, phone +44 20 7946 0958."


def test_kinds_are_switched_by_name_in_any_case() -> None:
    assert load_settings().pii_scanner.kinds == set(BUILT_IN_KINDS)
    redacted, counts = _redacted(TEXT, BFF_PII_KINDS=" email, Phone ")
    assert redacted == "Mail [EMAIL_1], IBAN DE89370400440532013000, phone [PHONE_1]."
    assert counts == {"EMAIL": 1, "PHONE": 1}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFF_PII_KINDS", "email,phone")
        assert load_settings().pii_kinds == ["EMAIL", "PHONE"]


def test_settings_copied_with_other_kinds_redact_those() -> None:
    """The scanner follows the settings it comes from, copies included."""
    settings = load_settings()
    assert settings.pii_scanner.kinds == set(BUILT_IN_KINDS)
    only_email = settings.model_copy(update={"pii_kinds": ["EMAIL"]})
    assert only_email.pii_scanner.kinds == {"EMAIL"}
    assert settings.pii_scanner.kinds == set(BUILT_IN_KINDS)


def test_no_kinds_means_nothing_is_redacted() -> None:
    assert _redacted(TEXT, BFF_PII_KINDS="") == (TEXT, {})
    assert _redacted("Diane Grondin, 786 Timothy Summit", BFF_PII_KINDS="")[1] == {}


def test_phone_regions() -> None:
    national = "Office: (0161) 4960066, ask for the desk"
    assert _redacted(national)[1] == {"PHONE": 1}  # GB is among the default regions
    assert _redacted(national, BFF_PII_PHONE_REGIONS="us,ca") == (national, {})
    international = "Office: +44 161 496 0066, ask for the desk"
    assert _redacted(international, BFF_PII_PHONE_REGIONS="US")[1] == {"PHONE": 1}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFF_PII_PHONE_REGIONS", "us, gb")
        assert load_settings().pii_phone_regions == ["US", "GB"]


BAD: list[tuple[str, str, str]] = [
    ("BFF_PII_KINDS", "EMAIL,PASSPORT", "unknown: PASSPORT"),
    ("BFF_PII_PHONE_REGIONS", "US,XX", "unknown: XX"),
    ("BFF_PII_PHONE_REGIONS", "", "name at least one region"),
    ("BFF_PII_RECOGNIZERS", "employee_ids", "not `package.module:name`"),
    ("BFF_PII_RECOGNIZERS", f"{OWN}.EMPLOYEE_IDS", "not `package.module:name`"),
    ("BFF_PII_RECOGNIZERS", "no_such_module_for_bff:ids", "cannot import no_such_module_for_bff"),
    ("BFF_PII_RECOGNIZERS", f"{OWN}:MISSING", f"{OWN} has no MISSING"),
    ("BFF_PII_RECOGNIZERS", f"{OWN}:NOT_A_RECOGNIZER", "not a recognizer"),
    ("BFF_PII_RECOGNIZERS", f"{OWN}:LOWER_CASE_KIND", "kinds must be UPPER_CASE"),
    ("BFF_PII_RECOGNIZERS", f"{OWN}:NO_KINDS", "kinds must be UPPER_CASE"),
    ("BFF_PII_RECOGNIZERS", "presidio", "needs presidio-analyzer and spaCy"),
]


@pytest.mark.parametrize(("setting", "value", "fragment"), BAD)
def test_bad_values_name_the_setting(
    offline: None, monkeypatch: pytest.MonkeyPatch, setting: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(setting, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == setting, caught.value
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)
    if setting == "BFF_PII_RECOGNIZERS":
        assert str(caught.value).startswith(f"{setting}: {value!r}: ")  # names the entry


def test_serve_refuses_with_one_line_each(
    offline: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "presidio_analyzer" not in sys.modules
    monkeypatch.setenv("BFF_PII_KINDS", "email,passport")
    monkeypatch.setenv("BFF_PII_PHONE_REGIONS", "XX")
    assert main(["serve", "--port", str(free_port())]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    kinds, regions = err.splitlines()
    assert kinds.startswith(
        "bff: invalid setting BFF_PII_KINDS: unknown: PASSPORT (known: "
        "JWT, SECRET, EMAIL, IBAN, CARD, SSN, IP, PHONE, ADDRESS, NAME)"
    )
    assert regions.startswith("bff: invalid setting BFF_PII_PHONE_REGIONS: unknown: XX (known:")
    monkeypatch.delenv("BFF_PII_KINDS")
    monkeypatch.delenv("BFF_PII_PHONE_REGIONS")
    monkeypatch.setenv("BFF_PII_RECOGNIZERS", "presidio")
    assert main(["serve", "--port", str(free_port())]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("bff: invalid setting BFF_PII_RECOGNIZERS: 'presidio': the Presidio")
    assert "pip install presidio-analyzer" in line


@pytest.mark.parametrize("entry", [f"{OWN}:EMPLOYEE_IDS", f"{OWN}:employee_ids"])
def test_an_own_recognizer_loads_as_object_or_factory(entry: str) -> None:
    text = "Badge EMP-004211 for ann@example.com"
    redacted, counts = _redacted(text, BFF_PII_RECOGNIZERS=f" {entry} ,")
    assert redacted == "Badge [EMPLOYEE_ID_1] for [EMAIL_1]"
    assert counts == {"EMPLOYEE_ID": 1, "EMAIL": 1}
    assert _redacted(text, BFF_PII_RECOGNIZERS=entry, BFF_PII_KINDS="")[1] == {"EMPLOYEE_ID": 1}


def test_an_own_recognizer_in_a_real_run(
    monkeypatch: pytest.MonkeyPatch, bff: BffFactory, sim: SimulatorServer
) -> None:
    monkeypatch.setenv("BFF_PII_RECOGNIZERS", f"{OWN}:EMPLOYEE_IDS")
    url = bff().url
    done = chat(url, "Badge EMP-004211 and EMP-117300 were lost. Badge EMP-004211 again.")
    assert done["redactions"] == {"EMPLOYEE_ID": 2}
    (record,) = sim.simulator.requests
    assert record.body["messages"][-1]["content"] == (
        "Badge [EMPLOYEE_ID_1] and [EMPLOYEE_ID_2] were lost. Badge [EMPLOYEE_ID_1] again."
    )
    plan = mutate(url, "ExtractActionPlan", text="Please reissue badge EMP-554433 today.")
    assert plan["extractActionPlan"]["meta"]["redactions"] == [{"kind": "EMPLOYEE_ID", "count": 1}]
    assert_nothing_sent(sim.simulator.requests, ["EMP-004211", "EMP-117300", "EMP-554433"])
    eventually(lambda: Scrape.value_of(url, "bff_redactions_total", kind="EMPLOYEE_ID") == 3)


@dataclass(frozen=True)
class _Result:
    entity_type: str
    start: int
    end: int
    score: float


@dataclass
class StandIn:
    """Stand-ins for presidio_analyzer and spaCy, and what the adapter did with them."""

    installed: set[str]
    configurations: list[dict[str, Any]] = field(default_factory=list)
    analyzed: list[dict[str, Any]] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)

    def analyze(self, text: str, language: str, entities: list[str]) -> list[_Result]:
        self.analyzed.append({"language": language, "entities": entities})
        scored = {
            "Morris": ("PERSON", 0.85),
            "Sydney": ("LOCATION", 0.3),
            "Tuesday": ("DATE_TIME", 0.9),
        }
        return [
            _Result(kind, text.index(word), text.index(word) + len(word), score)
            for word, (kind, score) in scored.items()
            if word in text
        ]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        stand_in = self

        class NlpEngineProvider:
            def __init__(self, nlp_configuration: dict[str, Any]) -> None:
                stand_in.configurations.append(nlp_configuration)

            def create_engine(self) -> str:
                return "spacy-engine"

        class AnalyzerEngine:
            def __init__(self, nlp_engine: str, supported_languages: list[str]) -> None:
                assert (nlp_engine, supported_languages) == ("spacy-engine", ["en"])
                self.analyze = stand_in.analyze

        modules: dict[str, dict[str, Any]] = {
            "presidio_analyzer": {"AnalyzerEngine": AnalyzerEngine},
            "presidio_analyzer.nlp_engine": {"NlpEngineProvider": NlpEngineProvider},
            "spacy": {},
            "spacy.util": {"is_package": lambda name: name in self.installed},
            "spacy.cli": {"download": self.downloads.append},
        }
        for name, attributes in modules.items():
            module = types.ModuleType(name)
            module.__dict__.update(attributes)
            monkeypatch.setitem(sys.modules, name, module)


PRESIDIO_TEXT = "Ask Morris about Sydney on Tuesday."


def test_presidio_through_the_settings(offline: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_scanner().find(PRESIDIO_TEXT) == []  # only the stand-in finds anything
    stand_in = StandIn(installed={"en_core_web_sm", "en_core_web_md"})
    stand_in.install(monkeypatch)
    redacted, counts = _redacted(PRESIDIO_TEXT, BFF_PII_RECOGNIZERS="presidio")
    assert redacted == "Ask [NAME_1] about Sydney on Tuesday."  # PERSON is NAME; 0.3 is dropped
    assert counts == {"NAME": 1}
    assert stand_in.configurations == [
        {
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_md"}],
        }
    ]
    (call,) = stand_in.analyzed
    assert call["language"] == "en" and "PERSON" in call["entities"]
    assert stand_in.downloads == []


def test_presidio_finds_no_kind_switched_off(
    offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    StandIn(installed={"en_core_web_lg", "en_core_web_sm"}).install(monkeypatch)
    env = {"BFF_PII_RECOGNIZERS": "presidio", "BFF_PII_KINDS": "EMAIL"}
    assert _redacted(PRESIDIO_TEXT, **env) == (PRESIDIO_TEXT, {})


def test_presidio_without_a_model_is_a_config_error(
    offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in = StandIn(installed={"en_core_web_xl", "de_core_news_lg"})
    stand_in.install(monkeypatch)
    monkeypatch.setenv("BFF_PII_RECOGNIZERS", "presidio")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "BFF_PII_RECOGNIZERS"
    assert str(caught.value) == (
        "BFF_PII_RECOGNIZERS: 'presidio': no spaCy English pipeline is installed "
        "(one of en_core_web_lg, en_core_web_trf, en_core_web_md, en_core_web_sm)"
    )
    assert stand_in.configurations == [] and stand_in.downloads == []
