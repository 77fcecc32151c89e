"""One sentence per bad value: a list's bound is counted in items, a text's in characters."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError, create_model

from hajatek_mcp.server.arguments import describe


def _refusal(kind: Any, value: Any) -> str:
    arguments: type[BaseModel] = create_model("Arguments", ids=(kind, ...))
    with pytest.raises(ValidationError) as caught:
        arguments.model_validate({"ids": value})
    return describe(caught.value, {})


@pytest.mark.parametrize(
    ("kind", "value", "sentence"),
    [
        (Annotated[list[str], Field(max_length=2)], ["a", "b", "c"], "ids has 3 items: at most 2 are accepted."),
        (Annotated[list[str], Field(min_length=1)], [], "ids has 0 items: at least 1 are accepted."),
        (Annotated[str, Field(max_length=3)], "abcd", "ids is too long: at most 3 characters."),
        (Annotated[str, Field(min_length=2)], "a", "ids is too short: at least 2 characters."),
    ],
)
def test_bounds_are_counted_in_the_unit_of_the_value(kind: Any, value: Any, sentence: str) -> None:
    assert _refusal(kind, value) == f"{sentence} Nothing was done: correct the arguments and call again."
