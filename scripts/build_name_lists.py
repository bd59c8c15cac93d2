#!/usr/bin/env python3
"""Build the compact first-name and surname lists used by the PII name recognizer.

This script is run once, by hand, and its output is committed:

    bff/pii/data/first_names.txt
    bff/pii/data/surnames.txt

bff/pii/names.py loads those two files at run time; nothing in the product imports
this script or its sources.

The names come from the PyPI package ``names-dataset`` 3.3.1 (Philippe Remy's
names-dataset, built from public Facebook profiles), and ``wordfreq`` 3.1.1 supplies
the common words removed from it, to keep false positives on ordinary prose low.
Neither is, nor may become, a dependency of the project (names-dataset alone loads
several GiB into memory), so install them into a throwaway virtual environment and run
the script from the repository root:

    python3 -m venv /tmp/names \\
        && /tmp/names/bin/pip install names-dataset==3.3.1 wordfreq==3.1.1 \\
        && /tmp/names/bin/python scripts/build_name_lists.py

Faker's name lists are deliberately not used in any way: Faker generates the test
names of benchmarks/pii_recall.py, and building from them would train on the test.

The output is deterministic: the same versions give byte-identical files.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

NAMES_DATASET_VERSION = "3.3.1"
WORDFREQ_VERSION = "3.1.1"
COMMAND = (
    "python3 -m venv /tmp/names && /tmp/names/bin/pip install "
    f"names-dataset=={NAMES_DATASET_VERSION} wordfreq=={WORDFREQ_VERSION} "
    "&& /tmp/names/bin/python scripts/build_name_lists.py"
)
OUT_DIR = Path(__file__).resolve().parent.parent / "bff" / "pii" / "data"

# How many top names to take per country: (first names per gender, surnames).
# Bigger for the six core countries, whose text the product sees most.
CORE = ("US", "GB", "FR", "DE", "ES", "IT")
CORE_N = (3000, 8000)
OTHER_N = (600, 1200)
OTHER = (
    "IE CA AU BE CH AT NL PT MX AR BR PL SE DK NO FI "  # required
    "IN TR RO GR ZA"  # a few more; GR brings some names in Greek script too
).split()

# Common words in these languages are not names, unless they are very common names.
WORD_LANGS = ("en", "fr", "de", "es", "it", "nl", "pt")
WORD_TOP_N = 5000
# wordfreq's lists hold many names (John, Heinrich, Rossi), so the most popular names of
# the core countries stay in both lists even when wordfreq has them.
KEEP_TOP_FIRST = 150  # per gender and core country
KEEP_TOP_SURNAMES = 100  # per core country

MONTHS_AND_DAYS = (
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday "
    "janvier février fevrier mars avril mai juin juillet août aout septembre octobre "
    "novembre décembre decembre lundi mardi mercredi jeudi vendredi samedi dimanche "
    "januar jänner februar märz maerz april mai juni juli august september oktober "
    "november dezember montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag "
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
    "noviembre diciembre lunes martes miércoles miercoles jueves viernes sábado sabado domingo "
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre lunedì lunedi martedì martedi mercoledì mercoledi giovedì giovedi venerdì "
    "venerdi sabato domenica"
).split()
STREET_WORDS = (
    "street road avenue lane drive court place way boulevard square terrace crescent close "
    "rue chemin allée allee impasse quai place "
    "strasse straße gasse weg platz allee ring damm ufer "
    "via viale piazza corso vicolo largo "
    "calle avenida plaza paseo camino carrera rua travessa praça praca "
    "straat laan plein gracht"
).split()
# Words that collide in product and support prose though rare in wordfreq's lists, or
# that the exception above would keep. Kept short; real names such as "Mark" stay.
HAND_DROP = (
    "settings account premium service support team sync cloud pro plus max mini home page "
    "admin user guest login app apple android windows office mobile online "
    "mr mrs ms dr jr sr mc "  # titles, suffixes, a bare prefix
    # popular names that are also among the commonest words of a language
    "will can said an be ha le ma na"
).split()

_VOWEL = re.compile(r"[aeiouy]", re.IGNORECASE)
_NAME = re.compile(r"^(?:[OD]')?[^\W\d_]{2,}(?:-[^\W\d_]{2,})*$")


def normalise(raw: str) -> str | None:
    """One name as the list keeps it, or None when it is not a simple single word.

    The source title-cases its keys and writes O'Brien as "O Brien", McAdam as
    "Mc Adam" or "Mcadam"; these three prefixes get their internal capital back.
    """
    name = unicodedata.normalize("NFC", raw.strip())
    match = re.fullmatch(r"([OD]) (\w+)", name)
    if match:
        name = f"{match[1]}'{match[2]}"
    name = re.sub(r"^Mc ?(\w)", lambda m: "Mc" + m[1].upper(), name)
    if not 2 <= len(name) <= 20 or not _NAME.fullmatch(name):
        return None
    if name.isupper():  # all-caps abbreviation
        return None
    if name.isascii() and not _VOWEL.search(name):  # initials such as "Brd", "Cm"
        return None
    parts = re.split(r"([-'])", name)
    if not all(p in "-'" or p[0].isupper() for p in parts):
        return None
    return name


def load_source() -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """Top first names {country: {"M": [...], "F": [...]}} and surnames {country: [...]}."""
    from names_dataset import NameDataset

    print("loading names-dataset (a few GiB, about a minute)...", file=sys.stderr)
    dataset = NameDataset()
    n = max(CORE_N + OTHER_N)
    # country_alpha2=None ranks every country in one pass; each list is cut below.
    firsts = dataset.get_top_names(n=n, use_first_names=True)
    lasts = dataset.get_top_names(n=n, use_first_names=False)
    return firsts, lasts


def take(
    firsts: dict[str, dict[str, list[str]]], lasts: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """The raw top names of the chosen countries, in a fixed order."""
    first_raw: list[str] = []
    last_raw: list[str] = []
    for country in (*CORE, *OTHER):
        n_first, n_last = CORE_N if country in CORE else OTHER_N
        by_gender = firsts.get(country, {})
        for gender in ("F", "M"):
            first_raw.extend(by_gender.get(gender, [])[:n_first])
        last_raw.extend(lasts.get(country, [])[:n_last])
    return first_raw, last_raw


def top_core(firsts: dict[str, dict[str, list[str]]], lasts: dict[str, list[str]]) -> set[str]:
    """Names popular enough to keep even when they are also common words, lowercase.

    One set serves both lists: a popular first name (George, Johann) is a surname too.
    """
    keep: set[str] = set()
    for country in CORE:
        for gender in ("F", "M"):
            keep.update(n.lower() for n in firsts[country][gender][:KEEP_TOP_FIRST])
        keep.update(n.lower() for n in lasts[country][:KEEP_TOP_SURNAMES])
    return keep


def common_words() -> tuple[set[str], set[str]]:
    """(the top WORD_TOP_N words of WORD_LANGS, the words always dropped)."""
    from wordfreq import top_n_list

    words: set[str] = set()
    for lang in WORD_LANGS:
        words.update(top_n_list(lang, WORD_TOP_N))
    always = set(MONTHS_AND_DAYS) | set(STREET_WORDS) | set(HAND_DROP)
    return words, always


def clean(
    raw: Iterable[str], words: set[str], always: set[str], keep: set[str]
) -> tuple[list[str], int]:
    """Sorted unique names kept from raw, and how many distinct names were dropped."""
    kept: set[str] = set()
    dropped: set[str] = set()
    for entry in raw:
        name = normalise(entry)
        if name is None:
            dropped.add(entry)
            continue
        low = name.lower()
        if low in always or (low in words and low not in keep):
            dropped.add(name)
        else:
            kept.add(name)
    return sorted(kept), len(dropped - kept)


def write(path: Path, names: list[str], what: str) -> None:
    header = (
        f"# {what}: names-dataset {NAMES_DATASET_VERSION} (Philippe Remy) minus common words "
        f"of wordfreq {WORDFREQ_VERSION}; built by scripts/build_name_lists.py: {COMMAND}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(header)
        out.writelines(f"{name}\n" for name in names)
    print(f"{path}: {len(names)} names, {path.stat().st_size} bytes", file=sys.stderr)


def check_versions() -> None:
    wanted_versions = {"names-dataset": NAMES_DATASET_VERSION, "wordfreq": WORDFREQ_VERSION}
    for package, wanted in wanted_versions.items():
        found = version(package)
        if found != wanted:
            sys.exit(f"{package} {found} installed, {wanted} wanted: see this script's docstring")


def main() -> None:
    check_versions()
    firsts, lasts = load_source()
    first_raw, last_raw = take(firsts, lasts)
    keep = top_core(firsts, lasts)
    words, always = common_words()
    first_names, first_dropped = clean(first_raw, words, always, keep)
    surnames, last_dropped = clean(last_raw, words, always, keep)
    print(f"dropped {first_dropped} first names, {last_dropped} surnames", file=sys.stderr)
    write(OUT_DIR / "first_names.txt", first_names, "First names")
    write(OUT_DIR / "surnames.txt", surnames, "Surnames")


if __name__ == "__main__":
    main()
