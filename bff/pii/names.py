"""Person names, found without a model.

A run of capitalised words is a name when
- it holds a known first name and the capitalised word after it, with the known
  names after that (``Diane Grondin``, ``Maria-Theresia Trommler``, ``Vera del
  Bolaños``), from the compact lists the project ships (``data/``, built by
  ``scripts/build_name_lists.py`` from names-dataset, common words removed);
- it follows a title or words that introduce a name (``Mr``, ``Frau``, ``Mme``,
  ``my name is``, ``je m'appelle``, ``ich heiße``, ``me llamo``, ``mi chiamo``):
  then any capitalised words are one;
- it follows a greeting, a sign-off or words such as ``contact``, ``ask for``,
  ``From:``, and starts with a known first name (``Hi Luc``, ``Thanks, Marie``;
  ``Hi Team`` is left);
- or it sits right before an email address whose local part holds one of its
  words (``Luc Lemaire <l.lemaire@…>``), or right before a phone number, and holds
  a known name.
A text with none of these cues (no first name, no title, no words that introduce
a name, no ``@``, no long number) is not looked at further.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from importlib import resources

from bff.pii._digits import longest_number
from bff.pii._words import WORD
from bff.pii.recognizer import Finding


def _endings(phrases: str) -> tuple[str, ...]:
    return tuple(" " + phrase for phrase in phrases.split("|"))


_PARTICLES = frozenset(
    "de del della di da dos das du des van von der den ter ten zu y le la bin ibn al".split()
)
_CAPITALISED = re.compile(WORD)
_TITLES = frozenset(
    "Mr Mrs Ms Miss Mx Dr Prof Herr Frau Hr Fr Mme Mlle Sr Sra Srta Dña Doña Sig Dott Ing "
    "Avv Sir Dame Madame Monsieur Señor Señora Signor Signora Maître".split()
)
_GREETINGS = frozenset(
    "Dear Hi Hello Hey Bonjour Bonsoir Salut Cher Chère Hallo Liebe Lieber Moin Hola Estimado "
    "Estimada Querido Querida Ciao Buongiorno Salve Gentile Caro Cara Regards Best Thanks "
    "Cheers Sincerely Yours Cordialement Merci Grüße Danke Saludos Atentamente Gracias Saluti "
    "Grazie Attn Contact Kontakt".split()
)
_INTRODUCING = _endings(
    "my name is|my name's|name:|name :|je m'appelle|je me nomme|mon nom est|nom:|nom :|"
    "ich heiße|ich heisse|mein name ist|name ist|me llamo|mi nombre es|nombre:|mi chiamo|"
    "il mio nome è|nome:|signed|gez.|firmado|firmato|signé|m."
)
_INTRODUCING_WORDS = (
    "my name", "name:", "name :", "m'appelle", "me nomme", "nom est", "nom:", "nom :", "heiße",
    "heisse", "name ist", "llamo", "nombre es", "nombre:", "chiamo", "nome è", "nome:",
    "signed", "gez.", "firmado", "firmato", "signé", " m. ",
)  # fmt: skip
"""Every ending in _INTRODUCING holds one of these: a text without any has none."""
_MENTIONING = _endings(
    "regards|thanks|thank you|cheers|best|merci|cordialement|grüße|danke|saludos|gracias|"
    "saluti|grazie|this is|i am|i'm|je suis|ich bin|soy|sono|contact|contacter|contactez|"
    "kontaktieren sie|contacte con|contatta|ask for|speak to|speak with|talk to|demandez|"
    "fragen sie nach|pregunte por|pregunta por|chiedere di|chiedi di|cc:|from:|to:|attn:|c/o|"
    "hi|hello|hey|dear"
)
_ADJACENT_EMAIL = re.compile(r"[ \t]*[<(\[,:]?[ \t]*(?P<local>[\w.+-]+)@")
_ADJACENT_PHONE = re.compile(  # eight digits or more, as a phone number is written; not an IP
    r"[ \t]*[,:(\u2013-]?[ \t]*(?!\d{1,3}\.\d{1,3}\.\d{1,3}\.\d)\+?\(?\d(?:[ ()./-]{0,2}\d){7,}"
)
_STOP = frozenset(
    w.casefold()
    for w in (
        "Team Customer Customers Sir Madam Support Service Services All Everyone Everybody "
        "There Friend Friends Colleagues Guys Folks Monsieur Madame Mesdames Messieurs Damen "
        "Herren Kollegen Kunde Kundin Señor Señora Signore Signora Tutti Todos Equipo Équipe "
        "Client Clients Cliente Admin Administrator User Users Sales Billing Manager Help "
        "Desk Helpdesk Hotline Staff Management Board Office The This That These Those We "
        "It Please Thanks Thank Hi Hello Dear Regards Best Cheers Your Our My If When And "
        "But Or So Yes No Ok Okay Hey Mon Tue Wed Thu Fri Sat Sun Jan Feb Mar Apr Jun Jul "
        "Aug Sep Sept Oct Nov Dec Street Road Avenue Lane Drive Way Place Square Station "
        "Hotel Airport Cathedral Palace Museum Bank Church University College School "
        "Hospital Hall Centre Center Park Bridge River Lake Mountain Island Valley Bay "
        "Beach Castle Tower Gate Gardens Court Company Group Inc Ltd GmbH Sie Ihr Ihnen Er "
        "Wir Ich Du Vous Nous Usted Lei"
    ).split()
)


def _follows(text: str, start: int, endings: tuple[str, ...]) -> bool:
    """Whether the words just before ``start`` are one of ``endings``."""
    tail = " " + text[max(0, start - 40) : start].rstrip().lower()
    bare = tail.rstrip(",:.!")
    return tail.endswith(endings) or bare.endswith(endings)


Token = tuple[int, int, str]
"""A capitalised word: where it starts and ends, and the word casefolded."""


@functools.cache
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """The shipped first names and surnames, casefolded (loaded once per process)."""
    return _load("first_names.txt"), _load("surnames.txt")


def _load(name: str) -> frozenset[str]:
    text = resources.files("bff.pii").joinpath("data", name).read_text(encoding="utf-8")
    return frozenset(w.casefold() for w in text.splitlines() if w and not w.startswith("#"))


class NameRecognizer:
    """Person names; see the module docstring."""

    kinds = frozenset(("NAME",))

    def __init__(self) -> None:
        self.first, self.last = name_lists()

    def find(self, text: str) -> Iterable[Finding]:
        lowered = " " + text.lower()
        introduced = any(word in lowered for word in _INTRODUCING_WORDS)
        beside = "@" in text or longest_number(text) >= 8  # an email or a phone may follow
        if not (introduced or beside):
            words = {p for w in _CAPITALISED.findall(text) for p in w.casefold().split("-")}
            if (words & self.first) <= _STOP and words.isdisjoint(_CASEFOLDED_TITLES):
                return  # no first name, no title, nothing that introduces a name or sits by one
        for trigger, run in _runs(text):
            span = self._name_in(text, run, trigger, introduced, beside)
            if span is not None:
                yield Finding(span[0], span[1], "NAME")

    def _name_in(
        self, text: str, run: list[Token], trigger: str, introduced: bool, beside: bool
    ) -> tuple[int, int] | None:
        first = 0
        while first < len(run) and run[first][2] in _INTRODUCERS:
            trigger = "strong" if run[first][2] in _CASEFOLDED_TITLES else "weak"
            first += 1
        if first == len(run):
            return None
        run = run[first:]
        if not trigger and introduced and _follows(text, run[0][0], _INTRODUCING):
            trigger = "strong"
        if trigger == "strong":
            return _leading(run[:3], lambda w: w not in _STOP)
        listed = self._listed(run)
        if listed is not None:
            return listed
        if self._first(run[0][2]) and (trigger or _follows(text, run[0][0], _MENTIONING)):
            return _leading(run[:3], lambda w: w not in _STOP)
        return self._adjacent(text, run) if beside else None

    def _listed(self, run: list[Token]) -> tuple[int, int] | None:
        """A known first name, the capitalised word after it, and the known names after
        that (``Diane Grondin``, ``Herlinde Jungfer``, ``Jean Pierre Martin``)."""
        for i in range(len(run) - 1):
            word = run[i][2]
            if self._first(word) and run[i + 1][2] not in _STOP:
                end = _leading(run[i + 2 :], self._known)
                return run[i][0], end[1] if end else run[i + 1][1]
        return None

    def _adjacent(self, text: str, run: list[Token]) -> tuple[int, int] | None:
        """The whole run, when an email naming it or a phone number follows."""
        if len(run) > 3 or any(word in _STOP for _, _, word in run):
            return None
        start, end = run[0][0], run[-1][1]
        email = _ADJACENT_EMAIL.match(text, end)
        if email:
            local = _folded(email.group("local"))
            named = any(_folded(word) in local for _, _, word in run if len(word) > 2)
            return (start, end) if named else None
        if _ADJACENT_PHONE.match(text, end) and any(self._known(word) for _, _, word in run):
            return start, end
        return None

    def _first(self, word: str) -> bool:
        """A known first name (``Maria-Theresia``: each part one)."""
        if word in _STOP:
            return False
        return word in self.first or ("-" in word and all(p in self.first for p in word.split("-")))

    def _known(self, word: str) -> bool:
        if word in _STOP:
            return False
        if word in self.last or word in self.first:
            return True
        return "-" in word and any(p in self.last or p in self.first for p in word.split("-"))


def _leading(run: list[Token], keep: Callable[[str], bool]) -> tuple[int, int] | None:
    """The span of the run's first words that ``keep`` keeps (None if not even the first)."""
    end = None
    for _, stop, word in run:
        if not keep(word):
            break
        end = stop
    return None if end is None else (run[0][0], end)


def _runs(text: str) -> Iterator[tuple[str, list[Token]]]:
    """Runs of capitalised words (a particle may join two), each with what introduced it:
    "strong" after a title, "weak" after a greeting or sign-off, else ""."""
    run: list[Token] = []
    trigger = ""
    for match in _CAPITALISED.finditer(text):
        start, end = match.span()
        if (start and (text[start - 1].isalnum() or text[start - 1] in "[]@./_")) or (
            end < len(text) and (text[end].isalnum() or text[end] in "@_[]")
        ):
            continue
        word = match.group().casefold()
        if run and _joins(text[run[-1][1] : start]):
            run.append((start, end, word))
            continue
        if run:
            yield trigger, run
            trigger = _trigger_after(run, text[run[-1][1] : start])
        run = [(start, end, word)]
    if run:
        yield trigger, run


def _joins(gap: str) -> bool:
    return (
        gap == " "
        or (gap.strip(" \t") == "" and "\n" not in gap)
        or (gap[:1] == " " and gap[-1:] == " " and gap.strip() in _PARTICLES)
    )


def _trigger_after(run: list[Token], gap: str) -> str:
    """What the words of ``run`` make of the run that follows after ``gap``."""
    if len(gap) > 4 or gap.strip(" \t\n,:.!") != "":
        return ""
    last = run[-1][2]
    if last in _CASEFOLDED_TITLES:
        return "strong"
    return "weak" if last in _CASEFOLDED_GREETINGS else ""


_CASEFOLDED_TITLES = frozenset(t.casefold() for t in _TITLES)
_CASEFOLDED_GREETINGS = frozenset(g.casefold() for g in _GREETINGS)
_INTRODUCERS = _CASEFOLDED_TITLES | _CASEFOLDED_GREETINGS


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
