"""Text that every database can store.

PostgreSQL refuses a NUL character in text and in jsonb, and no UTF-8 database can store a lone
surrogate (half of a UTF-16 pair, which JSON's `\\ud800` escapes can carry). Both arrive in
client-controlled event fields (tags, linked_id, url) and in anything typed into a request, and
an INSERT carrying one fails as a whole: the evidence of that signup would be lost. Every write
path passes such text through here first; each character that cannot be stored becomes U+FFFD
(the replacement character), and the paths of the values that changed are kept beside the
stored JSON so that reviewers can tell.
"""

from __future__ import annotations

import json
from typing import Any

REPLACEMENT = "\ufffd"


def _clean(text: str) -> str:
    return "".join(REPLACEMENT if ch == "\x00" or "\ud800" <= ch <= "\udfff" else ch for ch in text)


def storable_text(text: str) -> str:
    """`text` with NULs and lone surrogates replaced (the same object when there are none)."""
    if "\x00" in text:
        return _clean(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _clean(text)
    return text


def storable_json(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """A copy of a JSON value whose strings (keys included) are storable, and the paths of the
    values that had to change ("tags.note", "events[2].url"); unchanged parts are the same
    objects."""
    if not path and _storable_as_is(value):
        return value, []
    if isinstance(value, str):
        clean = storable_text(value)
        return clean, ([path or "$"] if clean is not value else [])
    if isinstance(value, dict):
        changed: list[str] = []
        out = {}
        for key, item in value.items():
            clean_key = storable_text(key) if isinstance(key, str) else key
            child = f"{path}.{clean_key}" if path else str(clean_key)
            clean_item, paths = storable_json(item, child)
            if clean_key is not key:
                paths = paths or [child]
            changed += paths
            out[clean_key] = clean_item
        return (out if changed else value), changed
    if isinstance(value, list):
        changed = []
        items = []
        for index, item in enumerate(value):
            clean_item, paths = storable_json(item, f"{path}[{index}]")
            changed += paths
            items.append(clean_item)
        return (items if changed else value), changed
    return value, []


def _storable_as_is(value: Any) -> bool:
    """Whether a whole JSON value is storable, from its encoding in C rather than a walk in
    Python: a NUL is always escaped as \\u0000, and a lone surrogate fails UTF-8. A NUL-like
    escape typed as text only sends the value down the walk, which decides."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    return "\\u0000" not in text
