"""The reference task's output model and the offline heuristic that fills it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

MAX_ACTIONS = 20
MAX_SUMMARY = 120


class UserAction(BaseModel):
    """One thing the user has to do."""

    model_config = ConfigDict(extra="forbid")

    action_type: str = Field(
        min_length=1, max_length=40, description="The kind of action, a verb such as 'call'."
    )
    priority: int = Field(ge=1, le=5, description="1 is the most urgent, 5 the least.")
    summary: str = Field(max_length=MAX_SUMMARY, description="What to do, in one line.")


class ActionPlan(BaseModel):
    """The actions found in a text, most urgent first."""

    model_config = ConfigDict(extra="forbid")

    actions: list[UserAction] = Field(max_length=MAX_ACTIONS)


_VERBS = frozenset(
    """arrange ask backup book buy call cancel check clean confirm contact create deploy
    draft email file finish fix follow invite investigate migrate order organize pay plan
    prepare remind renew reply review schedule send set share sign submit test update
    upgrade write""".split()
)
_CUES = re.compile(
    r"\b(?:need(?:s)? to|have to|has to|must|should|please|remember to|don't forget to|"
    r"todo:?|action:?|let's|we'll|i'll|we will|i will)\s+(?P<verb>[a-z]+)",
    re.IGNORECASE,
)
# A short lead-in before the verb: "Also,", "Then", "Someday,", "By Monday,".
_LEAD = re.compile(r"^(?:(?:also|then|and|so|next|first|finally)\b[,:]?\s+|[^,]{1,20},\s+)", re.I)
_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+|^\s*(?:[-*\u2022]|\d+[.)])\s+", re.MULTILINE)
_URGENCY: tuple[tuple[int, re.Pattern[str]], ...] = tuple(
    (level, re.compile(pattern, re.IGNORECASE))
    for level, pattern in (
        (1, r"\b(?:urgent\w*|asap|immediately|right away|critical|blocker|today|tonight|now)\b"),
        (5, r"\b(?:someday|eventually|maybe|nice to have|low priority|if time allows)\b"),
        (4, r"\b(?:next (?:week|month|quarter)|later|when possible)\b"),
        (
            2,
            r"\b(?:tomorrow|soon|important|high priority|by (?:monday|tuesday|wednesday|"
            r"thursday|friday|saturday|sunday|eod|end of day))\b",
        ),
    )
)


def extract_action_plan(text: str) -> ActionPlan:
    """Find imperative sentences and cue phrases ("need to call ...") in ``text``."""
    actions: list[UserAction] = []
    seen: set[str] = set()
    for sentence in _SPLIT.split(text):
        found = _find_action(sentence.strip())
        if found is None or found.summary.lower() in seen:
            continue
        seen.add(found.summary.lower())
        actions.append(found)
        if len(actions) == MAX_ACTIONS:
            break
    actions.sort(key=lambda action: action.priority)
    return ActionPlan(actions=actions)


def _find_action(sentence: str) -> UserAction | None:
    if not sentence:
        return None
    lead = _LEAD.match(sentence)
    start = lead.end() if lead else 0
    first = sentence[start:].split(maxsplit=1)[0].lower().strip(",:") if sentence[start:] else ""
    if first in _VERBS:
        verb = first
    else:
        cue = _CUES.search(sentence)
        if cue is None:
            return None
        verb, start = cue.group("verb").lower(), cue.start("verb")
    action_type = "follow up" if verb == "follow" else verb
    return UserAction(
        action_type=action_type[:40],
        priority=_priority(sentence),
        summary=_summary(sentence[start:]),
    )


def _priority(sentence: str) -> int:
    for level, pattern in _URGENCY:
        if pattern.search(sentence):
            return level
    return 3


def _summary(clause: str) -> str:
    clause = " ".join(clause.split()).rstrip(".!?;,")
    clause = clause[:1].upper() + clause[1:]
    if len(clause) <= MAX_SUMMARY:
        return clause
    cut = clause[: MAX_SUMMARY - 1].rsplit(" ", 1)[0]
    return cut + "\u2026"
