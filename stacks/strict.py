"""The base of every config section."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Strict(BaseModel):
    """Base of every config section: camelCase keys, unknown keys rejected, values never echoed, and no
    silent coercion (`true` is not 1, 8080 is not "8080"; fields that take either say so with rules.Text)."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        hide_input_in_errors=True,
    )
