"""Whether an answer sentence answers the question, not just something true of the sources.

Small models asked what the sources do not say often answer with sentences the sources do say: the whole
passage, a fact beside the one asked ("built in 1887" for what it cost to build), the same fact of another
thing ("the northern shore" for the southern). The grounding check passes them; this check does not. It
judges only factoid questions, whose answer is a thing of a known kind that a right answer restates the
question around:
- the kind: a question of how many, how much, how long... wants a number in the sentence, a question of
  when a number or a date word, a question of who a name the question does not already hold;
- the terms: every word the question asks with must stand in the sentence, by its stem or an equivalent
  word, except what the question is about (a name and the words of its phrase, "the Orlen windmill"),
  which may stand in the supporting passage instead ("It was built in 1764");
- the attribute: a number answers "how wide" only with a word of width beside it ("11 metres *wide*",
  "1.8 metres *across*"; "380 metres long" does not), "how long" with a length, a duration or their units,
  and "how many steps" only where it counts steps ("212 steps", not "a crew of 22" for scientists); "how
  much water" is answered by a volume without the word water ("it holds 1.7 litres"); a year answers
  "when was it built" where the passage puts it beside "built".
Why-questions, open what-questions ("What makes eruptions explosive?") and instructions ("Summarise the
report") are answered in words of their own, so for them grounding alone decides.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from outcrop.backends.grounding import STOP, content, sentences, stem, tokens

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z0-9]|[A-Za-z]|\d+(?:[.,:]\d+)*")
_AMOUNT_WORDS = """many much long far tall wide old big large small deep high heavy thick thin loud fast often
late early short"""
_LIGHT_WORDS = "live lives located situated exist exists take takes get"
_COUNT_WORDS = """one two three four five six seven eight nine ten eleven twelve dozen dozens twenty thirty
forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands million millions billion half free
nothing none"""
_DAY_WORDS = """january february march april may june july august september october november december spring
summer autumn fall winter monday tuesday wednesday thursday friday saturday sunday morning evening night noon
midnight today yesterday century"""
# "how <word>" asks for an amount, which the answer gives as a number
_AMOUNT = frozenset(_AMOUNT_WORDS.split())
_WHEN = frozenset({"time", "year", "date", "day", "month"})  # "what time", "which year": a date is asked
_BE = frozenset({"is", "are", "was", "were"})
# relation words an answer rarely restates: "how many people live in X" is answered "X has 1,340 inhabitants"
_LIGHT = frozenset(stem(word) for word in _LIGHT_WORDS.split())
_NUMBER_WORDS = frozenset(_COUNT_WORDS.split())
# what may stand before a question word: "At what altitude...", "And when..."
_LEADING = frozenset(
    [
        "at",
        "in",
        "on",
        "by",
        "for",
        "from",
        "to",
        "of",
        "during",
        "since",
        "until",
        "and",
        "so",
        "then",
        "but",
    ]
)
_DATE_WORDS = frozenset(_DAY_WORDS.split())
_LENGTH_UNITS = "metre meter kilometre kilometer km mile feet foot yard inch cm mm"  # stems take plurals
_TIME_UNITS = "second minute hour day week month year decade century"
# "how <word>": the words (or units) one of which must stand beside the number that answers it
_ATTRIBUTE_WORDS = {
    "long": f"long length short {_LENGTH_UNITS} {_TIME_UNITS}",
    "short": f"long length short {_LENGTH_UNITS} {_TIME_UNITS}",
    "wide": "wide width across broad breadth span",
    "tall": "tall high height altitude rise rises",
    "high": "tall high height altitude rise rises",
    "deep": "deep depth",
    "thick": "thick thickness thin",
    "thin": "thick thickness thin",
    "old": "old age aged year century",
    "heavy": "heavy weight weigh weighs kilogram gram tonne kg lb pound ton",
    "far": f"far distance range away visible {_LENGTH_UNITS}",
    "loud": "loud loudness decibel db volume",
    "fast": "fast speed quick mph kph knot h",  # "25 km/h" reads "km", "h"
    "often": f"often every frequency daily weekly hourly times {_TIME_UNITS}",
}
_ATTRIBUTES = {asked: frozenset(map(stem, words.split())) for asked, words in _ATTRIBUTE_WORDS.items()}
# units that say what "how much <stuff>" measures without naming the stuff ("how much water": "1.7 litres")
_MEASURE_WORDS = "litre liter millilitre milliliter ml gallon gram kilogram kg tonne ounce"
_MEASURES = frozenset(stem(word) for word in _MEASURE_WORDS.split())
_UNIT_WORDS = f"{_LENGTH_UNITS} {_TIME_UNITS} {_MEASURE_WORDS} euro pound dollar percent degree hectare"
_UNITS = frozenset(stem(word) for word in _UNIT_WORDS.split())  # what a measured (not counted) number has
BESIDE = 2  # words either side of the answering number that tie it to the attribute or the thing counted


def question_kind(question: str) -> tuple[str | None, frozenset[str]]:
    """The kind of thing a factoid question asks for ("amount", "date", "name", "thing"; None for any other
    input) and the words that only say so ("how *long*", "what *time*")."""
    words = [word.lower() for word in _WORD.findall(question)]
    for index, word in enumerate(words[:4]):  # "At what altitude...", "In which year..."
        if index and words[index - 1] not in _LEADING:
            return None, frozenset()  # a statement ("Volcanoes erupt when magma rises"), not a question
        following = words[index + 1] if index + 1 < len(words) else ""
        if word == "how":
            return ("amount", frozenset({following})) if following in _AMOUNT else (None, frozenset())
        if word == "when":
            return "date", frozenset()
        if word in ("who", "whom", "whose"):
            return "name", frozenset()
        if word in ("what", "which"):
            if following in _WHEN:
                return "date", frozenset({following})
            return ("thing", frozenset()) if following in _BE else (None, frozenset())
        if word in ("where", "why"):
            return None, frozenset()
    return None, frozenset()


def _states_kind(kind: str, sentence: str, question: str) -> bool:
    words = _WORD.findall(sentence)
    lowered = {part for word in words for part in word.lower().split("-")}  # "twenty-four"
    has_number = any(word[0].isdigit() for word in words) or bool(lowered & _NUMBER_WORDS)
    if kind == "amount":
        return has_number
    if kind == "date":
        return has_number or bool(lowered & _DATE_WORDS)
    if kind == "name":
        asked = set(tokens(question))
        return any(word[0].isupper() and stem(word) not in asked and stem(word) not in STOP for word in words)
    return True


def subject(question: str) -> set[str]:
    """The stems of the question's names and the words that follow each in one phrase ("the *Orlen
    windmill*", "the *Kestrel K9 battery*"): what the question is about, which an answer may call "it"."""
    words = _WORD.findall(question)
    found: set[str] = set()
    attached = False
    for position, word in enumerate(words):
        stemmed = stem(word)
        if stemmed in STOP or not word[0].isalnum():
            attached = False
        elif position > 0 and word[0].isupper():
            found.add(stemmed)
            attached = True
        elif attached:
            found.add(stemmed)
    return found


def counted(question: str, amount: str = "many") -> frozenset[str]:
    """What "how many" counts (or "how much" measures): the words after it up to the verb ("How many
    *steps* did...", "How many *people* live..."), names aside (stems; empty for any other question)."""
    words = _WORD.findall(question)
    lowered = [word.lower() for word in words]
    if amount not in lowered[:4]:
        return frozenset()
    found: set[str] = set()
    for word in words[lowered.index(amount) + 1 :]:
        stemmed = stem(word)
        if stemmed in STOP or stemmed in _LIGHT:
            break
        if not word[0].isupper():
            found.add(stemmed)
    return frozenset(found)


def _measured(sentence: str) -> bool:
    """Whether a number in the sentence is followed by a unit of volume or mass ("holds 1.7 *litres*")."""
    words = _WORD.findall(sentence)
    return any(_is_number(word) and stem(unit) in _MEASURES for word, unit in itertools.pairwise(words))


def _is_number(token: str) -> bool:
    return any(c.isdigit() for c in token) or all(p in _NUMBER_WORDS for p in token.lower().split("-"))


def _numbers(text: str) -> set[str]:
    """The text's numbers as `_numbers_beside` finds them ("6:30", "1340", "7" for "seven")."""
    return {stem(word.replace(",", "")) for word in _WORD.findall(text) if _is_number(word)}


def _numbers_beside(wanted: frozenset[str], text: str, *, counting: bool = False) -> set[str]:
    """The numbers (stems: "1340", "7") within BESIDE words of one of the wanted stems; `counting`, not
    those a unit other than the wanted follows ("span 24 *metres*" counts no sails)."""
    words = _WORD.findall(text.replace("/", " "))
    stems = [stem(word.replace(",", "")) for word in words]

    def measured(index: int) -> bool:
        unit = stems[index + 1] if index + 1 < len(stems) else ""
        return counting and unit in _UNITS and unit not in wanted

    return {
        stems[index]
        for index, word in enumerate(words)
        if _is_number(word)
        and wanted & set(stems[max(0, index - BESIDE) : index + BESIDE + 1])
        and not measured(index)
    }


def _states_attribute(question: str, form: frozenset[str], sentence: str, passages: Sequence[str]) -> bool:
    """An amount's number stands beside the asked attribute ("how wide": a word of width) or, for how
    many, beside the thing counted, in the sentence and, where the passages hold that number, beside it
    there too ("9.4 kilometres long and 11 metres wide" makes 11 the width, not 9.4)."""
    for asked in form:
        wanted = counted(question) if asked == "many" else _ATTRIBUTES.get(asked, frozenset())
        if not wanted:
            continue
        counting = asked == "many"
        stated = _numbers_beside(wanted, sentence, counting=counting)
        if not stated:
            return False
        held = set().union(*map(_numbers, passages)) & stated
        beside = (_numbers_beside(wanted, passage, counting=counting) for passage in passages)
        if held and not held & set().union(*beside):
            return False
    return True


def answers(question: str, sentence: str, passages: Sequence[str] = ()) -> bool:
    """Whether the sentence answers the question (always true of what is not a factoid question); what
    the question is about may stand in the passages that support the sentence rather than in it. A bare
    value ("640", "3 million") is judged by the passage sentence that holds it ("it houses 640 animals")."""
    kind, form = question_kind(question)
    if kind is None:
        return True
    if _bare(sentence, question):
        return any(_judged(kind, form, question, whole, passages) for whole in _holding(sentence, passages))
    return _judged(kind, form, question, sentence, passages)


BARE_WORDS = 4  # an answer this short that repeats no word of the question is a bare value


def _bare(sentence: str, question: str) -> bool:
    """A short answer that leaves the question unsaid: the value alone ("7", "the Velder Trust")."""
    words = _WORD.findall(sentence)
    return (
        0 < len(words) <= BARE_WORDS and bool(content(sentence)) and not content(sentence) & content(question)
    )


def _holding(value: str, passages: Sequence[str]) -> list[str]:
    """The passage sentences that hold every word of the bare value."""
    wanted = content(value)
    return [whole for passage in passages for whole in sentences(passage) if wanted <= set(tokens(whole))]


def _judged(kind: str, form: frozenset[str], question: str, sentence: str, passages: Sequence[str]) -> bool:
    """`answers` for a factoid question of that kind."""
    if not _states_kind(kind, sentence, question):
        return False
    if kind == "amount" and not _states_attribute(question, form, sentence, passages):
        return False
    asked = content(question) - {stem(word) for word in form} - _LIGHT
    if "much" in form and _measured(sentence):
        asked -= counted(question, "much")  # "how much water does it hold": "it holds 1.7 litres"
    about = subject(question)
    said = set(tokens(sentence))
    held = said.union(*(tokens(passage) for passage in passages))
    names = {stem(word) for word in _WORD.findall(question)[1:] if word[0].isupper()}
    relation = frozenset(asked - about - names)
    # an amount may leave words of the question unsaid where its passage sentence holds them all ("a
    # ticket costs 7 euros" for a ticket *to visit*, beside "open to visitors")
    unsaid = kind == "amount" and relation & said and _related(relation, sentence, passages, strict=True)
    if not ((unsaid or asked - about <= said) and asked & about <= held):
        return False
    if kind == "amount" and not _related(relation, sentence, passages):
        return False
    if kind == "name":
        return _named(frozenset(asked - names - about), sentence, question, passages)
    return kind != "date" or _dated(frozenset(asked - names), sentence, passages)


def _related(
    relation: frozenset[str], sentence: str, passages: Sequence[str], *, strict: bool = False
) -> bool:
    """The amount that answers "how much did it cost to build" stands in a passage sentence that holds
    every word the question asks with ("a ticket costs 7 euros" answers no cost of building); `strict`:
    false too where no such number or relation is there to judge."""
    held = set().union(*map(_numbers, passages)) & _numbers(sentence)
    if not relation or not held:
        return not strict
    wholes = [whole for passage in passages for whole in sentences(passage)]
    return any(held & _numbers(whole) and relation <= set(tokens(whole)) for whole in wholes)


def _named(relation: frozenset[str], sentence: str, question: str, passages: Sequence[str]) -> bool:
    """A name that answers "who made it" stands in a passage sentence that holds the relation asked ("it
    was *made* by Anna Berg"), not in one about another role ("its curator is Linus Farrow")."""
    asked = set(tokens(question))
    new = {stem(word) for word in _WORD.findall(sentence) if word[0].isupper()} - asked - STOP
    wholes = [set(tokens(whole)) for passage in passages for whole in sentences(passage)]
    holding = [whole for whole in wholes if new & whole]
    if not relation or not holding:
        return True  # nothing asked beyond the role, or no passage holds the name: grounding decides
    return any(relation & whole for whole in holding)


def _dated(relation: frozenset[str], sentence: str, passages: Sequence[str]) -> bool:
    """A year that answers "when was it built" stands beside "built" in the passage that holds it ("built
    in 1887"), not beside another event of the same thing ("automated in 1969")."""
    held = set().union(*map(_numbers, passages)) & _numbers(sentence)
    if not relation or not held:
        return True  # no relation asked, or a date word ("in March"): grounding decides
    return bool(held & set().union(*(_numbers_beside(relation, passage) for passage in passages)))
