"""Whether a call's required values come from the conversation, so the agent asks the user for a value it
was not given instead of running the call with one the model invented, and answers (without the tool) a
request that a tool was called for by reflex.

Small models fill every required argument they are offered, even when the user named none ("Book a table
for me" becomes a booking at "The Golden Palace" for 2). A value counts as given when the conversation
(the user's messages this session, the agent's instruction, prompt session attributes and earlier tool
results) holds it: the same words or number, its first telling word ("Paris" of "Paris, France"), or its
abbreviation ("km" for "kilometers"). Values a tool's own description suggests ("such as AMZN") do not
count: they are examples.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from outcrop.backends.base import ToolCall
from outcrop.backends.json_schema import schema_errors
from outcrop.services.bedrock_agent.agents_schema import Action

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_NUMBER_WORDS = {
    word: number
    for number, word in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ))
}  # fmt: skip
_NUMBER_WORDS_EXTRA = {"a couple": 2, "a pair": 2, "a dozen": 12, "half a dozen": 6}
# words too common to show that the user named a value
_COMMON = {
    "the", "a", "an", "of", "in", "on", "at", "for", "to", "and", "or", "my", "me", "i", "you", "your", "our",
    "we", "it", "is", "are", "be", "this", "that", "what", "which", "with", "by", "from", "please", "now",
    "today", "tonight", "name", "value",
}  # fmt: skip


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    return word[:-2] if word.endswith("'s") else word.rstrip("s") if len(word) > 3 else word


def _abbreviates(short: str, long: str) -> bool:
    """'km' abbreviates 'kilometers', 'kg' 'kilograms': same first letter, the rest in order (a single
    letter abbreviates nothing: 'F' is not 'flying')."""
    if not 2 <= len(short) <= 4 or len(long) <= len(short) or short[0] != long[0]:
        return False
    position = 0
    for letter in short[1:]:
        position = long.find(letter, position + 1)
        if position < 0:
            return False
    return True


def _number_given(value: float, text: str, tokens: set[str]) -> bool:
    shown = str(int(value)) if float(value).is_integer() else repr(float(value))
    if shown in tokens or any(token.replace(",", "") == shown for token in tokens):
        return True
    if any(_NUMBER_WORDS[token] == value for token in tokens if token in _NUMBER_WORDS):
        return True
    return any(phrase in text and number == value for phrase, number in _NUMBER_WORDS_EXTRA.items())


def _text_given(value: str, text: str, tokens: set[str], generic: set[str]) -> bool:
    needle = " ".join(words(value))
    if not needle:
        return True  # punctuation alone: nothing to check
    if f" {needle} " in f" {' '.join(words(text))} ":
        return True
    number = _as_number(value)
    if number is not None and _number_given(number, text, tokens):
        return True
    # the value's first telling word decides: 'Paris, France' is the user's Paris, 'Rome, Italy' is not
    # the user's Italy, and a value made only of the parameter's own words ('restaurant') names nothing
    word = next((w for w in words(value) if w not in _COMMON and w not in generic), None)
    if word is None:
        return False
    if word in tokens or _stem(word) in {_stem(token) for token in tokens}:
        return True
    return any(_abbreviates(word, token) or _abbreviates(token, word) for token in tokens)


def _as_number(value: str) -> float | None:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        return None


def given(value: Any, text: str, generic: Iterable[str] = ()) -> bool:
    """Whether the conversation `text` holds `value` (see the module's docstring)."""
    tokens = set(words(text))
    lowered = text.lower()
    if isinstance(value, bool):
        return True  # a yes or no is the model's reading of the request, not a made-up fact
    if isinstance(value, int | float):
        return _number_given(value, lowered, tokens)
    if isinstance(value, str):
        return _text_given(value, lowered, tokens, set(generic))
    if isinstance(value, list):
        return all(given(item, text, generic) for item in value)
    if isinstance(value, dict):
        return all(given(item, text, generic) for item in value.values())
    return True


def not_given(action: Action, arguments: dict[str, Any], conversation: str) -> list[str]:
    """The required parameters whose value is missing or not in the conversation (a knowledge-base search
    query or a question to the user is the model's own words: only present is asked of those)."""
    missing = []
    for param in action.params:
        if not param.required:
            continue
        value = arguments.get(param.name)
        generic = words(f"{param.name.replace('_', ' ')} {param.description}")
        if value in (None, "") or (action.kind == "action" and not given(value, conversation, generic)):
            missing.append(param.name)
    return missing


def related(action: Action, request: str) -> bool:
    """Whether the request shares a word with the tool (its name, description and parameters): a call to a
    tool the request has nothing to do with, made with no value the user gave, is a small model's reflex
    ("What is 2 + 2?" calling get_weather), not a need to ask the user."""
    described = " ".join(
        [action.tool.name.replace("_", " "), action.tool.description]
        + [f"{p.name.replace('_', ' ')} {p.description}" for p in action.params]
    )
    tool_words = {_stem(word) for word in words(described) if word not in _COMMON and word != "get"}
    return any(_stem(word) in tool_words for word in words(request) if word not in _COMMON)


# -- the user's own values ---------------------------------------------------------------------------------

_SEPARATOR = re.compile(r"\s*(?:[,;]|\band\b)\s*", re.IGNORECASE)
_MAX_ITEMS = 5


def _word_spans(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0).lower(), m.start(), m.end()) for m in re.finditer(_WORD.pattern, text, re.IGNORECASE)]


def user_span(value: str, user_text: str, conversation: str) -> str | None:
    """The user's words for a value the model padded with words the conversation does not hold ('Rome' for
    'Rome, Italy' when only 'Rome' was said): a value the user gave is passed as the user wrote it, as
    AWS's agents pass the user's slot values. None when nothing was added or the kept words are not one
    span of the user's text."""
    tokens = set(words(conversation))
    stems = {_stem(token) for token in tokens}
    value_words = words(value)
    kept = [w for w in value_words if w in tokens or _stem(w) in stems]
    if len(kept) == len(value_words) or not any(w not in _COMMON for w in kept):
        return None
    spans = _word_spans(user_text)
    for wanted in (kept, [w for w in kept if w not in _COMMON]):
        for start in range(len(spans) - len(wanted) + 1):
            if [s[0] for s in spans[start : start + len(wanted)]] == wanted:
                return user_text[spans[start][1] : spans[start + len(wanted) - 1][2]]
    return None


def separate_items(value: str, user_text: str) -> list[str] | None:
    """The items of a value that joins several the user named apart ('AMZN,MSFT' for 'AMZN and MSFT'),
    for a parameter that takes one: the agent makes one call per item. None when the user wrote the value
    as it stands ('Paris, France') or an item is not the user's."""
    parts = [part.strip() for part in _SEPARATOR.split(value) if part.strip()]
    if not 2 <= len(parts) <= _MAX_ITEMS:
        return None
    said = f" {' '.join(words(user_text))} "
    if f" {' '.join(words(value))} " in said:
        return None
    return parts if all(words(p) and f" {' '.join(words(p))} " in said for p in parts) else None


def as_user_wrote(
    action: Action, arguments: dict[str, Any], user_text: str, conversation: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The call's arguments with string values as the user gave them: one set of arguments per item when
    the model joined several into one value, the user's span where it padded one. With notes for the trace."""
    notes: list[str] = []
    sets = [dict(arguments)]
    for param in action.params:
        value = arguments.get(param.name)
        if param.type != "string" or not isinstance(value, str):
            continue
        items = separate_items(value, user_text) if len(sets) == 1 else None
        if items is not None:
            notes.append(f"{param.name} {value!r} names {len(items)} values: one call for each")
            sets = [{**sets[0], param.name: item} for item in items]
        for arguments_set in sets:
            current = arguments_set[param.name]
            span = user_span(current, user_text, conversation)
            if span is not None:
                notes.append(f"{param.name}: the user's {span!r} instead of {current!r}")
                arguments_set[param.name] = span
    return sets, notes


def ground_calls(
    actions: dict[str, Action], calls: list[ToolCall], user_text: str, conversation: str
) -> tuple[list[ToolCall], list[str]]:
    """The model's calls with their string values as the user gave them (see as_user_wrote): a call whose
    value joined several items becomes one call per item."""
    grounded: list[ToolCall] = []
    notes: list[str] = []
    for call in calls:
        action = actions.get(call.name)
        if (
            action is None
            or action.kind != "action"
            or schema_errors(call.arguments, action.tool.parameters | {"required": []})
        ):
            grounded.append(call)
            continue
        sets, noted = as_user_wrote(action, call.arguments, user_text, conversation)
        notes.extend(f"{call.name} {note}" for note in noted)
        for index, arguments in enumerate(sets):
            grounded.append(ToolCall(call.id if index == 0 else f"{call.id}-{index}", call.name, arguments))
    return grounded, notes


def _valid(action: Action | None, arguments: dict[str, Any]) -> bool:
    return action is not None and not schema_errors(arguments, action.tool.parameters | {"required": []})


def reflex(
    action: Action | None, arguments: dict[str, Any], conversation: str, request: str, *, after_result: bool
) -> bool:
    """A call of a tool the request is not related to, with none of its required values given, or, after a
    tool's result this turn, with one not given: an elaboration the request did not ask for."""
    if action is None or action.kind != "action" or not _valid(action, arguments):
        return False
    required = [p.name for p in action.params if p.required]
    missing = not_given(action, arguments, conversation)
    invented = len(missing) == len(required) or (bool(missing) and after_result)
    return bool(required) and invented and not related(action, request)


def grounded(action: Action | None, arguments: dict[str, Any], conversation: str) -> bool:
    """A call that can run as the model meant it: a known tool (not a question to the user), valid
    arguments, every required value given."""
    if action is None or action.kind == "ask_user" or not _valid(action, arguments):
        return False
    return not not_given(action, arguments, conversation)
