"""``GET|PUT /demo/faults``: the fault switch of the offline demo model, per route.

A demo page turns faults on for one demo route (say ``demo/heuristic``) so a
visitor can watch retries, fallbacks and breakers. Only demo routes the BFF is
configured with can be switched; other providers are never touched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bff.api.errors import json_error
from bff.api.limits import is_json
from bff.providers.demo import DemoProvider, FaultProfile
from bff.routes import parse_route
from bff.run import ErrorCode
from bff.vocabulary import DEMO_FAULTS, DemoFault, format_errors


class FaultSwitch(BaseModel):
    """The body of ``PUT /demo/faults``."""

    model_config = ConfigDict(extra="forbid")

    route: str
    rate: float = Field(ge=0, le=1, description="Share of calls that fail.")
    kinds: list[DemoFault] = Field(min_length=1)


def demo_faults_endpoint(
    demo: Callable[[], DemoProvider], routes: list[str], seed: int
) -> Callable[[Request], Awaitable[Response]]:
    """The route; ``routes`` are the demo routes that may be switched."""

    def state() -> dict[str, object]:
        provider = demo()
        profiles = {route: provider.profile(parse_route(route).model) for route in routes}
        return {
            "kinds": list(DEMO_FAULTS),
            "routes": [
                {"route": route, "rate": p.rate, "kinds": list(p.kinds)}
                for route, p in profiles.items()
            ],
        }

    async def demo_faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(state())
        if not is_json(request):
            return json_error(415, ErrorCode.INPUT_REJECTED, "send application/json")
        try:
            switch = FaultSwitch.model_validate_json(await request.body())
        except ValidationError as exc:
            return _rejected("; ".join(format_errors(exc)))
        if switch.route not in routes:
            return _rejected(f"{switch.route!r} is not a demo route of this BFF ({routes})")
        profile = FaultProfile(switch.rate, tuple(switch.kinds), seed)
        demo().by_model[parse_route(switch.route).model] = profile
        return JSONResponse(state())

    return demo_faults


def _rejected(message: str) -> Response:
    return json_error(400, ErrorCode.INPUT_REJECTED, message)
