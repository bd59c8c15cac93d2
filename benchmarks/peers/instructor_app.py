"""The instructor peer for ``benchmarks/structured_path.py``: the BFF's action-plan task, done
the way an instructor user would write it.

uvicorn and Starlette around one reused ``instructor.from_openai(AsyncOpenAI(...))`` client in
instructor's default mode (tools), no retries. ``POST /extract`` takes ``{"text": ...}`` and
answers the plan from one non-streaming call; ``POST /extract-partial`` streams the call with
``create_partial`` and answers its last partial plan; ``GET /healthz``. Runs in the peers'
virtualenv (``make bench`` builds it), so it must not import ``bff``: ``ActionPlan`` below
copies the structure of ``bff/demo/action_plan.py``'s, and the system prompt is the task's.

``python benchmarks/peers/instructor_app.py --port N --upstream URL``
"""

from __future__ import annotations

import json

import instructor
from _serve import serve  # beside this script: the peers' virtualenv runs it as a file
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

SYSTEM_PROMPT = (
    "You extract action items from the user's text. For each thing the user has to do, "
    "give its type as a short verb, a priority from 1 (most urgent) to 5 (least), and a "
    "one-line summary of at most 120 characters. Return at most 20 actions, most urgent "
    "first, and no actions when the text asks for none."
)


class UserAction(BaseModel):
    """One thing the user has to do."""

    model_config = ConfigDict(extra="forbid")

    action_type: str = Field(
        min_length=1, max_length=40, description="The kind of action, a verb such as 'call'."
    )
    priority: int = Field(ge=1, le=5, description="1 is the most urgent, 5 the least.")
    summary: str = Field(max_length=120, description="What to do, in one line.")


class ActionPlan(BaseModel):
    """The actions found in a text, most urgent first."""

    model_config = ConfigDict(extra="forbid")

    actions: list[UserAction] = Field(max_length=20)


def routes(upstream: str) -> list[Route]:
    client = instructor.from_openai(AsyncOpenAI(base_url=upstream, api_key="bench", max_retries=0))

    async def messages(request: Request) -> list[dict[str, str]]:
        text = json.loads(await request.body())["text"]
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]

    async def extract(request: Request) -> Response:
        plan = await client.chat.completions.create(
            model="gpt-4o-mini",
            response_model=ActionPlan,
            messages=await messages(request),
            max_retries=0,
        )
        return Response(plan.model_dump_json(), media_type="application/json")

    async def extract_partial(request: Request) -> Response:
        partials = client.chat.completions.create_partial(
            model="gpt-4o-mini",
            response_model=ActionPlan,
            messages=await messages(request),
            max_retries=0,
        )
        last = None
        async for partial in partials:
            last = partial
        if last is None:
            return PlainTextResponse("no partial plan", status_code=502)
        return Response(last.model_dump_json(), media_type="application/json")

    return [
        Route("/extract", extract, methods=["POST"]),
        Route("/extract-partial", extract_partial, methods=["POST"]),
    ]


if __name__ == "__main__":
    serve(routes, __doc__)
