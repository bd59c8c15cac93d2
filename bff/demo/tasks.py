"""The reference tasks the BFF serves by default, each with a safe response."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from bff.demo.action_plan import ActionPlan, extract_action_plan
from bff.demo.countries import LOOKUP_COUNTRY, CountryBrief, brief_country
from bff.demo.docs import DocsAnswer, DocsQuestion, not_found
from bff.demo.ticket import TicketSummary, summarize_ticket
from bff.tasks import ContextUse, Task, TaskRegistry

MAX_TEXT = 20_000


class TextInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The text to work on.")


EXTRACT_ACTION_PLAN: Task[TextInput, ActionPlan] = Task(
    name="extractActionPlan",
    description="Find the actions a text asks for, most urgent first.",
    input_model=TextInput,
    output_model=ActionPlan,
    system_prompt=(
        "You extract action items from the user's text. For each thing the user has to do, "
        "give its type as a short verb, a priority from 1 (most urgent) to 5 (least), and a "
        "one-line summary of at most 120 characters. Return at most 20 actions, most urgent "
        "first, and no actions when the text asks for none."
    ),
    safe_response=lambda data: extract_action_plan(data.text),
    result_field="plan",
)

SUMMARIZE_TICKET: Task[TextInput, TicketSummary] = Task(
    name="summarizeTicket",
    description="Condense a support ticket into a headline, labels and key points.",
    input_model=TextInput,
    output_model=TicketSummary,
    system_prompt=(
        "You triage customer support tickets. Write a headline of at most 60 characters, "
        "label the sentiment and category, flag it urgent when the customer is blocked or "
        "losing money, and list at most three key points of at most 80 characters each."
    ),
    max_tokens=400,
    safe_response=lambda data: summarize_ticket(data.text),
    result_field="summary",
)


BRIEF_COUNTRY: Task[TextInput, CountryBrief] = Task(
    name="briefCountry",
    description="Answer a question about a country from a bundled table, through a lookup tool.",
    input_model=TextInput,
    output_model=CountryBrief,
    system_prompt=(
        "You answer questions about countries. Call lookup_country with the country's English "
        "name first, then answer only from what it returns: the country, its capital, currency "
        "and calling code, and a one-sentence summary of at most 200 characters. When the "
        "lookup finds nothing, answer with null facts and say so in the summary."
    ),
    max_tokens=300,
    tools=(LOOKUP_COUNTRY,),
    max_tool_depth=2,
    safe_response=lambda data: brief_country(data.text),
    result_field="brief",
)

ANSWER_FROM_DOCS: Task[DocsQuestion, DocsAnswer] = Task(
    name="answerFromDocs",
    description="Answer a question from the documents, citing the snippets the answer rests on.",
    input_model=DocsQuestion,
    output_model=DocsAnswer,
    system_prompt=(
        "You answer questions about a product from its documentation, using only the "
        "snippets quoted in the user's message. Answer in at most three sentences and cite "
        "the id of every snippet the answer rests on. When the snippets do not answer the "
        "question, say so: set found to false, cite nothing, and do not guess."
    ),
    prompt=lambda data: data.question,
    max_tokens=500,
    safe_response=not_found,
    restore_pii=True,  # the corpus's own addresses, redacted on the way out, come back
    context=ContextUse(
        query=lambda data: data.question,
        citations=lambda output: output.citations,
        needs_citations=lambda output: output.found,
    ),
)


def reference_tasks() -> TaskRegistry:
    return TaskRegistry([EXTRACT_ACTION_PLAN, SUMMARIZE_TICKET, BRIEF_COUNTRY, ANSWER_FROM_DOCS])
