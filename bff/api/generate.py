"""GraphQL types generated from a task's Pydantic models.

Output models become object types whose fields resolve straight from the
validated Pydantic instance (no copying); input models become field arguments.
Nested models, lists, enums, optional fields and field descriptions carry
over. What GraphQL cannot express exactly (dicts, ``Any``, unions of several
non-null types) travels as the ``JSON`` scalar.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import functools
import inspect
import types
import uuid
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import strawberry
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from strawberry.scalars import JSON

_SCALARS: tuple[type, ...] = (
    bool, str, int, float, datetime.datetime, datetime.date, datetime.time, uuid.UUID,
    decimal.Decimal,
)  # fmt: skip
RESERVED = frozenset(
    """Query Mutation Subscription RunMeta TaskError TaskErrorCode FallbackKind AttemptError
    RunStarted RunProgress RunRetrying RunToolCalls RunFallingBack TaskInfo Health JSON
    BreakerStatus BreakerState RedactionCount ModelRoute TaskDrift CitedSnippet""".split()
)


class SchemaBuildError(ValueError):
    """A task's models cannot be expressed in GraphQL as they stand."""


class TypeFactory:
    """Builds (once) the GraphQL type for each Python type it meets."""

    def __init__(self) -> None:
        self._outputs: dict[type[BaseModel], type] = {}
        self._inputs: dict[type[BaseModel], type] = {}
        self._enums: dict[type[Enum], Any] = {}
        self._names: dict[str, object] = {}

    def _claim(self, name: str, owner: object) -> str:
        if name in RESERVED:
            raise SchemaBuildError(f"the GraphQL type name {name!r} is reserved; rename the model")
        if self._names.setdefault(name, owner) is not owner:
            raise SchemaBuildError(f"two different models would both be the GraphQL type {name!r}")
        return name

    def output(self, model: type[BaseModel]) -> type:
        """The object type for ``model``; its fields read the Pydantic instance directly."""
        built = self._outputs.get(model)
        if built is not None:
            return built
        name = self._claim(model.__name__, model)
        cls = type(name, (), {"__module__": __name__})
        self._outputs[model] = cls  # registered first, so recursive models can refer to it
        cls.__annotations__ = {
            field: self._annotation(info.annotation, output=True)
            for field, info in model.model_fields.items()
        }
        for field, info in model.model_fields.items():
            setattr(cls, field, strawberry.field(description=info.description))
        return strawberry.type(cls, name=name, description=_doc(model))

    def input(self, model: type[BaseModel]) -> type:
        built = self._inputs.get(model)
        if built is not None:
            return built
        name = self._claim(model.__name__ + "Input", model)
        cls = type(name, (), {"__module__": __name__})
        self._inputs[model] = cls
        cls.__annotations__ = {
            field: self._annotation(info.annotation, output=False)
            for field, info in model.model_fields.items()
        }
        for field, info in model.model_fields.items():
            default = _default(info)
            kwargs: dict[str, Any] = {"description": info.description}
            if isinstance(default, list | dict | set):
                kwargs["default_factory"] = functools.partial(copy.deepcopy, default)
            elif default is not inspect.Parameter.empty:
                kwargs["default"] = default
            setattr(cls, field, strawberry.field(**kwargs))
        return strawberry.input(cls, name=name, description=_doc(model))

    def arguments(self, model: type[BaseModel]) -> list[inspect.Parameter]:
        """Keyword parameters for a resolver taking ``model``'s fields as arguments.

        A mutable default (a list, say) cannot be a parameter default: such an
        argument is optional and, when omitted, arrives as UNSET and is left out,
        so Pydantic applies the default.
        """
        params = []
        for field, info in model.model_fields.items():
            tp = self._annotation(info.annotation, output=False)
            default = _default(info)
            if isinstance(default, list | dict | set):
                tp, default = tp | None, strawberry.UNSET
            annotation = Annotated[tp, strawberry.argument(description=info.description)]  # type: ignore[valid-type]
            extra = {} if default is inspect.Parameter.empty else {"default": default}
            params.append(
                inspect.Parameter(
                    field, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, **extra
                )
            )
        return params

    def enum(self, cls: type[Enum]) -> Any:
        built = self._enums.get(cls)
        if built is None:
            name = self._claim(cls.__name__, cls)
            built = self._enums[cls] = strawberry.enum(cls, name=name, description=_doc(cls))
        return built

    def _annotation(self, tp: Any, *, output: bool) -> Any:
        origin = get_origin(tp)
        if origin is Annotated:
            return self._annotation(get_args(tp)[0], output=output)
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            inner = self._annotation(members[0], output=output) if len(members) == 1 else JSON
            return inner | None if len(members) < len(get_args(tp)) else inner
        if origin in (list, tuple, set, frozenset):
            args = [a for a in get_args(tp) if a is not Ellipsis]
            if origin is tuple and len(set(args)) > 1:
                return JSON
            return list[self._annotation(args[0], output=output)] if args else list[JSON]  # type: ignore[misc]
        if origin is Literal:
            values = get_args(tp)
            return type(values[0]) if len({type(v) for v in values}) == 1 else JSON
        if isinstance(tp, type):
            if issubclass(tp, BaseModel):
                return self.output(tp) if output else self.input(tp)
            if issubclass(tp, Enum):
                return self.enum(tp)
            if issubclass(tp, _SCALARS):
                return next(s for s in _SCALARS if issubclass(tp, s))
        return JSON


def input_to_python(value: Any) -> Any:
    """Strawberry argument values (input objects, enums) as plain data for Pydantic;
    arguments left UNSET are dropped so that Pydantic's defaults apply."""
    if isinstance(value, dict):
        return {k: input_to_python(v) for k, v in value.items() if v is not strawberry.UNSET}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: input_to_python(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [input_to_python(v) for v in value]
    return value


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return inspect.Parameter.empty
    default = info.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):
        return inspect.Parameter.empty
    return default


def _doc(cls: type) -> str | None:
    doc = cls.__doc__
    if not doc or doc is BaseModel.__doc__ or doc is Enum.__doc__:
        return None
    return inspect.cleandoc(doc)
