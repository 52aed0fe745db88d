"""Rules for text input shared by every domain."""

from __future__ import annotations

from deliberation.errors import Invalid


def check_text(field: str, value: str) -> str:
    """422 for text PostgreSQL cannot store (NUL characters)."""
    if "\x00" in value:
        raise Invalid.field(field, "must not contain NUL characters")
    return value


def check_texts(**fields: object) -> None:
    """422 for text PostgreSQL cannot store (NUL characters), naming the field."""
    for field, value in fields.items():
        if isinstance(value, str):
            check_text(field, value)
