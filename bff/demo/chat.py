"""The offline demo model's chat replies: deterministic, and about what was asked."""

from __future__ import annotations

import re
from collections import Counter

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = frozenset(
    """about after again also because been before being could does doing from have into
    just like make more most much need only other over said same should some such than
    that their them then there these they this those through very want were what when
    where which while will with would your yours please thanks hello tell know give show""".split()
)


def chat_reply(text: str) -> str:
    """A short answer that names the main terms of ``text``."""
    words = [w.lower() for w in _WORD.findall(text)]
    ranked = [w for w, _ in Counter(w for w in words if w not in _STOP).most_common(3)]
    if not ranked:
        return (
            "Hello! I am the offline demo model of llm-bff. Ask me something, or set "
            "BFF_MODEL to a real model route for real answers."
        )
    topics = ranked[0] if len(ranked) == 1 else ", ".join(ranked[:-1]) + " and " + ranked[-1]
    return (
        f"You asked about {topics}. I am the offline demo model, so this answer comes from a "
        f"heuristic, not a language model: your message has {len(words)} words, and the terms "
        f"that stand out are {topics}. Point BFF_MODEL at a real route, such as "
        f"openai/gpt-4o-mini, to get a real answer."
    )
