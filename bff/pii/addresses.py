"""Street addresses in the common European and North American forms.

- English: ``786 Timothy Summit Suite 625``, ``Flat 37, Bennett Mall``, ``5th Avenue``
  (a number, capitalised words and a street type from the USPS list, a unit).
- French: ``49, avenue Renaud``, ``12 bis rue de la Paix``.
- German: ``Heckerallee 30/66``, ``Müller Straße 5``, ``Am Markt 3``.
- Spanish and Italian: ``Calle de Alcalá 12, 3ºB``, ``Via Roma, 12 Piano 3``.

A postcode with its city that follows a street belongs to it (``, 75001 Paris``,
``, Springfield, IL 62704``, ``, London SW1A 1AA``). After words that introduce an
address (``my address is``, ``ship to``, ``j'habite au``, ``meine Adresse ist``,
``vivo en``, ``abito in``) the rest of the clause is an address when it holds a
number and a capitalised word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from bff.pii._digits import digit_runs
from bff.pii._words import LOWER, UPPER, WORD, words
from bff.pii.recognizer import Finding

_EN_TYPES = words(
    "Alley|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluff|Bluffs|Bottom|Boulevard|Blvd|"
    "Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|"
    "Centers|Circle|Circles|Cir|Cliff|Cliffs|Close|Club|Common|Commons|Corner|Corners|"
    "Course|Court|Courts|Ct|Cove|Coves|Creek|Crescent|Crest|Crossing|Crossroad|"
    "Crossroads|Curve|Dale|Dam|Divide|Drive|Drives|Dr|Estate|Estates|Expressway|"
    "Extension|Extensions|Fall|Falls|Ferry|Field|Fields|Flat|Flats|Ford|Fords|Forest|"
    "Forge|Forges|Fork|Forks|Fort|Freeway|Garden|Gardens|Glen|Glens|Green|"
    "Greens|Grove|Groves|Harbor|Harbors|Harbour|Haven|Heights|Highway|Hwy|Hill|Hills|"
    "Hollow|Inlet|Island|Islands|Isle|Junction|Junctions|Key|Keys|Knoll|Knolls|Lake|"
    "Lakes|Land|Landing|Lane|Ln|Light|Lights|Loaf|Lock|Locks|Lodge|Loop|Mall|Manor|"
    "Manors|Meadow|Meadows|Mews|Mill|Mills|Mission|Motorway|Mount|Mountain|Mountains|"
    "Neck|Orchard|Oval|Overpass|Parade|Park|Parks|Parkway|Parkways|Pkwy|Pass|Passage|"
    "Path|Pike|Pine|Pines|Place|Pl|Plain|Plains|Plaza|Point|Points|Port|Ports|Prairie|"
    "Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridge|Ridges|Rise|River|Road|Roads|Rd|Route|"
    "Row|Run|Shoal|Shoals|Shore|Shores|Skyway|Spring|Springs|Spur|Spurs|Square|Squares|"
    "Sq|Station|Stravenue|Stream|Street|Streets|St|Summit|Terrace|Ter|Throughway|Trace|"
    "Track|Trafficway|Trail|Trl|Trailer|Tunnel|Turnpike|Underpass|Union|Unions|Valley|"
    "Valleys|Viaduct|View|Views|Village|Villages|Ville|Vista|Walk|Walks|Wall|Way|Ways|"
    "Well|Wells|Wharf|Yard|Embankment|Approach"
)
_FR_TYPES = words(
    "rue|avenue|av.|boulevard|bd|place|chemin|allée|allee|impasse|quai|route|rte|cours|"
    "passage|square|voie|faubourg|rond-point|sentier|villa|cité|hameau|résidence|"
    "esplanade|promenade|parvis|montée|ruelle|venelle|chaussée|lotissement"
)
_DE_SUFFIX_WORDS = (
    "straße|strasse|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|"
    "graben|wall|kai|zeile|anger|stieg|promenade|brücke|bogen|kamp|berg|hof|feld|garten|"
    "park|tor|twiete|winkel|steg"
).split("|")
_DE_SUFFIX = words("|".join([*_DE_SUFFIX_WORDS, "str."]))
_DE_TYPES = words("Straße|Strasse|Str.|Weg|Allee|Platz|Gasse|Ring|Damm|Ufer|Chaussee|Markt")
_DE_BEFORE = words("Am|An der|An den|Auf der|Auf dem|Im|In der|In den|Zum|Zur|Unter den|Hinter der")
_ES_IT_LIST = (
    "Calle|C/|Avenida|Avda.|Av.|Paseo|Plaza|Camino|Carrer|Carretera|Ctra.|Ronda|Travesía|"
    "Callejón|Glorieta|Pasaje|Vía|Cañada|Alameda|Rambla|Urbanización|Urb.|Acceso|Cuesta|"
    "Bulevar|Polígono|Sector|Barrio|Senda|Vereda|Muelle|Via|Viale|Piazza|Piazzale|Corso|"
    "Largo|Vicolo|Strada|Borgo|Contrada|Rotonda|Lungomare|Lungotevere|Vico|Salita|"
    "Stretto|Campo|Fondamenta|Traversa|Circonvallazione|Galleria|Passaggio|Località|"
    "Frazione|Canale|Incrocio|Piazzetta|Rione|Sentiero"
)
_ES_IT_TYPES = words(_ES_IT_LIST)
_PARTICLE = words(
    "de|de la|de l'|de los|de las|del|des|du|d'|la|le|les|l'|y|di|da|della|dello|dei|"
    "degli|delle|von|van|der|den|San|Santa|Sant'|St.|Saint|Sainte"
)
_DE_COMPOUND = (
    rf"(?:[{UPPER}][{LOWER}]+-)*[{UPPER}][{LOWER}]*(?i:{_DE_SUFFIX})"
    rf"|(?:[{UPPER}][{LOWER}]+-)+{_DE_TYPES}"
)
_NUMBER = r"\d{1,5}[A-Za-z]?(?:[ \t]?[-/][ \t]?\d{1,4}[A-Za-z]?)?"
_NAME = rf"(?:{WORD}|\d+(?:st|nd|rd|th|e|ème))(?:[ \t-]+(?:{_PARTICLE}[ \t]*)?{WORD}){{0,3}}"
_UNIT = (
    r"(?:,?[ \t]+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Fl\.?|Room|Rm\.?|#|Piso|"
    r"Puerta|Planta|Esc\.?|Escalera|Bajo|Apto\.?|Piano|Appartamento|Interno|Int\.|Scala|"
    r"Étage|étage|Bât\.?|Bâtiment|Wohnung|Whg\.)[ \t]*#?\w{1,5}|,?[ \t]+\d{1,2}º[ \t]?[A-Z]?)"
)
_FROM_NUMBER = re.compile(  # English and French: the number first
    rf"(?<![\w\[\].,/-]){_NUMBER}(?:"
    rf",?[ \t]+(?:[NSEW]\.?[ \t]+)?{_NAME}[ \t]+{_EN_TYPES}\.?"
    r"(?:[ \t]+(?:NE|NW|SE|SW|N|S|E|W)\.?)?(?![\w'])"
    rf"|(?:[ \t]?(?:bis|ter|quater))?,?[ \t]+(?i:{_FR_TYPES})[ \t]+(?:{_PARTICLE}[ \t]*)?{_NAME}"
    r")"
)
_TO_NUMBER = re.compile(  # German, Spanish and Italian: the street first
    r"(?<![\w\[\]])(?:"
    rf"(?:(?:{_DE_BEFORE}[ \t]+)?{WORD}[ \t]+{_DE_TYPES}|{_DE_COMPOUND})[ \t]+{_NUMBER}"
    rf"|{_DE_BEFORE}[ \t]+{WORD}[ \t]+\d{{1,3}}[a-z]?(?![\d.,])"
    rf"|{_ES_IT_TYPES}[ \t]+(?:{_PARTICLE}[ \t]*)?{_NAME},?[ \t]+(?:n\.?º[ \t]*)?{_NUMBER}"
    r")"
)
_UNITS = re.compile(rf"(?:{_UNIT}){{1,3}}")
_UNIT_BEFORE = re.compile(r"(?:Flat|Studio|Apartment|Unit|Suite)[ \t]+(?:\d{1,4}[A-Za-z]?,?\s+)?\Z")

_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}"
_CITY = (
    rf"{WORD}(?:[ \t-]+(?:(?:sur|sous|en|le|la|les|de|am|an|der|im|bei|upon|on)[ \t-]+)?{WORD})"
    r"{0,3}(?:[ \t]+\([A-Z]{2}\))?"
)
_TAIL = re.compile(
    rf"(?:,[ \t]*|[ \t]+|[ \t]*\n[ \t]*)(?:"
    rf"{_CITY},?[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?(?!\w)"  # Springfield, IL 62704
    rf"|(?:[A-Z]{{1,2}}-)?\d{{4,5}},?[ \t]+{_CITY}"  # 75001 Paris, D-10115 Berlin
    rf"|(?:{_CITY},?[ \t]+)?{_UK_POSTCODE}(?!\w)"  # London SW1A 1AA
    rf"|{_CITY},[ \t]+\d{{4,5}}(?!\w)"  # Madrid, 28013
    r")"
)
_INTRODUCERS = tuple(
    sorted(
        (
            "my address is|my home address is|my postal address is|my shipping address is|"
            "my delivery address is|my address:|i live at|i live on|ship to|ship it to|"
            "ship them to|ship this to|deliver to|deliver it to|deliver them to|"
            "deliver this to|send it to|send them to|send this to|located at|address:|"
            "adresse :|adresse:|mon adresse est|mon adresse :|mon adresse:|j'habite au|"
            "j'habite à|j'habite|livrez au|livrez-le au|meine adresse ist|meine adresse lautet|"
            "meine adresse:|ich wohne in der|ich wohne in|ich wohne an der|ich wohne am|"
            "anschrift:|lieferadresse:|wohnhaft in|mi dirección es|mi dirección:|vivo en la|"
            "vivo en el|vivo en|dirección:|enviar a|envíalo a|il mio indirizzo è|"
            "il mio indirizzo:|abito in|indirizzo:|spedire a|spediscilo a"
        ).split("|"),
        key=len,
        reverse=True,
    )
)
"""Words after which the rest of the clause is an address (longest first)."""
_STEMS = (
    "address", "live ", "ship ", "deliver ", "send ", "located", "adresse", "habite", "livrez",
    "wohn", "anschrift", "direcci", "vivo ", "envi", "envía", "indirizzo", "abito", "sped",
)  # fmt: skip
"""Every phrase of _INTRODUCERS holds one of these (tests/sanitize/test_recognizers.py)."""
_BY_STEM = {stem: tuple(p for p in _INTRODUCERS if stem in p) for stem in _STEMS}
_INTRODUCED = re.compile(
    r"[ \t]*:?[ \t]*(?P<address>(?![\[\s])[^\n.;!?\[\]]{4,80}?)(?=[.;!?\n\[]|$)"
)
_DIGIT = re.compile(r"\d")
_NUMBER_FIRST = re.compile(
    rf"[A-Za-z]?(?:[ \t]?[-/][ \t]?\d{{1,4}}[A-Za-z]?)?(?:[ \t]?(?:bis|ter|quater))?,?[ \t]+"
    rf"(?:[NSEW]\.?[ \t]+)?(?:[{UPPER}]|(?i:{_FR_TYPES})[ \t]|(?:st|nd|rd|th)\b)"
)
_DE_ENDINGS = (*_DE_SUFFIX_WORDS, "str.")
_DE_TYPE_WORDS = frozenset(
    "Straße Strasse Str. Weg Allee Platz Gasse Ring Damm Ufer Chaussee Markt".split()
)
_ES_IT_TYPE_WORDS = frozenset(_ES_IT_LIST.split("|"))
_DE_BEFORE_WORDS = frozenset("Am An Auf Im In Zum Zur Unter Hinter".split())
_ARTICLES = frozenset(("der", "dem", "den"))
_CAPITAL = re.compile(rf"[{UPPER}]")


class AddressRecognizer:
    """Street addresses; see the module docstring."""

    kinds = frozenset(("ADDRESS",))

    def find(self, text: str) -> Iterable[Finding]:
        runs = digit_runs(text)
        if not runs:
            return
        spans = [self._completed(text, start, end) for start, end in _streets(text, runs)]
        for start, end in _introduced(text):
            spans.append(self._completed(text, start, end))
        for start, end in _merged(spans):
            yield Finding(start, end, "ADDRESS")

    @staticmethod
    def _completed(text: str, start: int, end: int) -> tuple[int, int]:
        """The street at ``text[start:end]`` with the flat before it, and the units,
        postcode and city after it."""
        flat = _UNIT_BEFORE.search(text, max(0, start - 24), start)
        units = _UNITS.match(text, end)
        end = units.end() if units else end
        tail = _TAIL.match(text, end)
        return flat.start() if flat else start, tail.end() if tail else end


def _streets(text: str, runs: tuple[tuple[int, int], ...]) -> Iterator[tuple[int, int]]:
    """The streets built on the numbers of ``text``: one that starts with the number
    (``12 Main Street``, ``49, avenue Renaud``) or ends with it (``Heckerallee 30``,
    ``Via Roma, 12``). Each number is looked at once, where its street would be."""
    for start, end in runs:
        if _NUMBER_FIRST.match(text, end):
            match = _FROM_NUMBER.match(text, start)
            if match:
                yield match.span()
        if _after_street(text[max(0, start - 70) : start]):
            reach = min(len(text), end + 8)
            for match in _TO_NUMBER.finditer(text, max(0, start - 70), reach):
                if match.end() >= end:
                    yield match.span()
                    break


def _after_street(before: str) -> bool:
    words = before.replace(",", " ").split()[-6:]
    if not words:
        return False
    last = words[-1]
    return (
        last.lower().endswith(_DE_ENDINGS)
        or last in _DE_TYPE_WORDS
        or any(w in _ES_IT_TYPE_WORDS for w in words)
        or (len(words) > 1 and words[-2] in _DE_BEFORE_WORDS)
        or (len(words) > 2 and words[-3] in _DE_BEFORE_WORDS and words[-2] in _ARTICLES)
    )


def _introduced(text: str) -> Iterator[tuple[int, int]]:
    """The clauses after words that introduce an address, when they hold a number and a
    capitalised word."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lower case is longer: places differ
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    phrases = [p for stem in _STEMS if stem in lowered for p in _BY_STEM[stem]]
    for phrase in phrases:
        at = lowered.find(phrase)
        while at != -1:
            if not (at and lowered[at - 1].isalnum()):
                match = _INTRODUCED.match(text, at + len(phrase))
                if match and _DIGIT.search(match["address"]) and _CAPITAL.search(match["address"]):
                    yield match.span("address")
            at = lowered.find(phrase, at + 1)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with the overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
