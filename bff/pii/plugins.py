"""A team's own recognizers, named in ``BFF_PII_RECOGNIZERS``.

Each entry is ``package.module:name``: the object there is a recognizer, or a
callable that takes no argument and returns one (or a list of them). The entry
``presidio`` names the bundled Presidio adapter (``bff.pii.presidio``). A bad
entry is a configuration error with the reason; the BFF does not start.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence

from bff.pii.recognizer import KIND, Recognizer

ALIASES = {"presidio": "bff.pii.presidio:presidio_recognizer"}
SPEC = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def load_recognizers(specs: Sequence[str]) -> list[Recognizer]:
    """The recognizers ``specs`` name, in order; ValueError naming the bad entry."""
    loaded: list[Recognizer] = []
    for spec in specs:
        try:
            loaded.extend(_load(ALIASES.get(spec, spec)))
        except ValueError as exc:
            raise ValueError(f"{spec!r}: {exc}") from None
    return loaded


def _load(spec: str) -> list[Recognizer]:
    if not SPEC.fullmatch(spec):
        raise ValueError("not `package.module:name` (or `presidio`)")
    module_name, _, attribute = spec.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name}: {exc}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{module_name} has no {attribute}")
        target = getattr(target, part)
    if not isinstance(target, Recognizer) and callable(target):
        target = target()
    found = target if isinstance(target, list | tuple) else [target]
    for recognizer in found:
        _check(recognizer)
    return list(found)


def _check(recognizer: object) -> None:
    if not isinstance(recognizer, Recognizer):
        raise ValueError("not a recognizer (it needs `kinds` and `find(text)`)")
    bad = [k for k in recognizer.kinds if not isinstance(k, str) or not KIND.fullmatch(k)]
    if bad or not recognizer.kinds:
        raise ValueError(f"its kinds must be UPPER_CASE names, not {sorted(map(str, bad))}")
