"""One mongoexport line → a validated event, or a reject reason (SPEC 1.1). Pure, no I/O."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import NamedTuple

import orjson

from .constants import (
    ENT_PROFILES,
    EVENT_TYPES_USED,
    FUTURE_TOLERANCE_MS,
    ID_ALPHABET_PATTERN,
    MIN_EVENT_MS,
    NEVER_STORED_FIELDS,
)

_VALID_ID = re.compile(ID_ALPHABET_PATTERN).fullmatch

# Reject reasons, as counted in `ingest`'s report and build.json.
NOT_JSON = "not_json"
INVALID_UTF8 = "invalid_utf8"
MISSING_ID = "missing_id"
BAD_EVENT_ID = "bad_event_id"
MISSING_EVENT_TYPE = "missing_event_type"
MISSING_DATE = "missing_date"
BAD_DATE = "bad_date"
DATE_BEFORE_2000 = "date_before_2000"
DATE_IN_FUTURE = "date_in_future"
MISSING_USER_ID = "missing_user_id"
MISSING_PROFILE = "missing_profile"
UNKNOWN_PROFILE = "unknown_profile"
MISSING_MODULE = "missing_module"
BAD_STRUCTURES = "bad_structures"
BAD_CLASSES = "bad_classes"
BAD_ID = "bad_id"
TRUNCATED_GZIP = "truncated_gzip"  # given for a broken file (exports.read_blocks), never by parse_line

REJECT_REASONS = {
    NOT_JSON: "the line is not a JSON object (an array, a bare value, broken JSON, nested over 1,000 deep)",
    INVALID_UTF8: "the line is not valid UTF-8 (bytes that are not, or a \\u escape of a lone surrogate)",
    MISSING_ID: "no `_id`",
    BAD_EVENT_ID: '`_id` is neither a string nor {"$oid": …}',
    MISSING_EVENT_TYPE: "no `event-type` (or not a string)",
    MISSING_DATE: "no `date`",
    BAD_DATE: "`date` is not one of the forms of SPEC 1.1 (or is past the 64-bit range of BSON dates)",
    DATE_BEFORE_2000: "`date` is before 2000-01-01",
    DATE_IN_FUTURE: "`date` is more than one day in the future",
    MISSING_USER_ID: "no `userId` on a LOGIN, ACCESS or ACTIVATION",
    MISSING_PROFILE: "no `profil` on a LOGIN, ACCESS or ACTIVATION",
    UNKNOWN_PROFILE: "`profil` is not Teacher, Student, Relative, Personnel or Guest",
    MISSING_MODULE: "no `module` on an ACCESS",
    BAD_STRUCTURES: "`structures` is not an array of strings",
    BAD_CLASSES: "`classes` is not an array of strings",
    BAD_ID: "a structure or class id has a character outside A-Z a-z 0-9 _ -",
    TRUNCATED_GZIP: "the compressed file ends early or is corrupt: lines before the break are kept",
}
_INT64 = 1 << 63  # BSON dates are signed 64-bit milliseconds
_INT_DIGITS = 4300  # Python's default limit for int(str); past it the standard parser gives +/-Infinity
SURROGATE_ESCAPE = r"\\u[dD][89a-fA-F]"  # a \u escape of half a UTF-16 pair (or of a lone half)
_SURROGATE_ESCAPE = re.compile(SURROGATE_ESCAPE).search
_ORJSON_MAX_DEPTH = 1024


class Event(NamedTuple):
    event_id: str
    event_type: str
    module: str | None
    ts_ms: int
    user_id: str | None
    profile: str | None
    structures: list[str]
    classes: list[str]


class Reject(NamedTuple):
    reason: str
    raw: str  # the line, less its `ip` and `ua` when it parses as a JSON object


def parse_date(value: object) -> int | None:
    """Epoch milliseconds UTC from any `date` form of SPEC 1.1, or None."""
    if type(value) is int:
        return value if -_INT64 <= value < _INT64 else None
    if type(value) is not dict or len(value) != 1:
        return None
    if "$numberLong" in value:
        text = value["$numberLong"]
        return _integer(text) if type(text) is str else None
    inner = value.get("$date")
    if isinstance(inner, str):
        return _iso_to_ms(inner)
    if type(inner) is dict and len(inner) == 1 and "$numberLong" in inner:
        return parse_date(inner)
    return None


def _integer(text: str) -> int | None:
    digits = text[1:] if text[:1] == "-" else text
    if not (len(digits) <= 19 and digits.isascii() and digits.isdigit()):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _iso_to_ms(text: str) -> int | None:
    if "T" not in text and " " not in text:
        return None  # a bare date is not a time
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None  # the SPEC wants `Z` or an offset: a local time without one is ambiguous
    # whole seconds and milliseconds apart, so that no float rounding moves an event across a boundary
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


def _event_id(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if type(value) is dict and len(value) == 1 and isinstance(value.get("$oid"), str) and value["$oid"]:
        return value["$oid"]
    return None


def _id_list(value: object) -> list[str] | None:
    """The distinct ids of `structures` / `classes`, in first-seen order; None when not a list of strings."""
    if value is None:
        return []
    if type(value) is not list:
        return None
    for item in value:
        if type(item) is not str:
            return None
    return list(dict.fromkeys(value)) if len(value) > 1 else value


_VALID_IDS: set[str] = set()  # ids already checked: a platform has a few thousand structures and classes
_VALID_IDS_LIMIT = 2_000_000


def _ids_valid(ids: list[str]) -> bool:
    for item in ids:
        if item not in _VALID_IDS:
            if not _VALID_ID(item):
                return False
            if len(_VALID_IDS) < _VALID_IDS_LIMIT:
                _VALID_IDS.add(item)
    return True


def strip_private(document: dict) -> dict:
    """The document less `ip` and `ua`, its keys in their order (a copy when it had any of them)."""
    if not any(field in document for field in NEVER_STORED_FIELDS):
        return document
    stripped = dict(document)  # copying and popping: 0.2 µs, a comprehension 1.4 µs
    drop_private(stripped)
    return stripped


def drop_private(document: dict) -> None:
    """`ip` and `ua` popped from the document itself (the other keys keep their order)."""
    for field in NEVER_STORED_FIELDS:
        document.pop(field, None)


def _reject(reason: str, document: dict) -> Reject:
    return Reject(reason, _dumps(strip_private(document)))


def _dumps(document: dict) -> str:
    """The document as compact JSON text that UTF-8 can hold (lone surrogates stay \\u escapes)."""
    if not _has_float(document):
        try:  # the standard encoder's text (but floats: orjson writes 1e-05 as 0.00001), 20 times faster
            return orjson.dumps(document).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, an integer past 64 bits, past 255 levels
            pass
    text = _compact(document, ascii_only=False)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _compact(document, ascii_only=True)
    return text


def _compact(document: dict, ascii_only: bool) -> str:
    try:
        return json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":"))
    except RecursionError:
        # orjson reads up to 1,024 levels, past the standard encoder's default recursion limit
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + 2 * _ORJSON_MAX_DEPTH)
        try:
            return json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":"))
        finally:
            sys.setrecursionlimit(limit)


def _has_float(document: dict) -> bool:
    """Whether a value of the document, at any depth, is a float. Only containers are stacked: a flat
    document's walk takes half the time of stacking every value."""
    stack: list[dict | list] = [document]
    while stack:
        container = stack.pop()
        for value in container.values() if type(container) is dict else container:
            kind = type(value)
            if kind is float:
                return True
            if kind is dict or kind is list:
                stack.append(value)
    return False


def reject_of(line: bytes, reason: str) -> Reject | None:
    """The reject of a line whose reason is already known (the columnar fast path found it), with the raw
    text `parse_line` gives it; None when orjson does not read the line (parse_line's slower path decides).
    A line known not to be JSON is whole UTF-8: its raw text is itself."""
    if reason == NOT_JSON:
        return Reject(NOT_JSON, line.decode("utf-8").rstrip("\r\n"))
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict:
        return None
    drop_private(document)  # the document is this function's own: no copy, 0.7 µs less
    return Reject(reason, _dumps(document))


def _load_slowly(text: str) -> object:
    """The standard parser, which takes what orjson refuses: integers past 64 bits, NaN, Infinity."""
    return _SLOW_DECODER.decode(text)  # json.loads(text, parse_int=…) would make a decoder each time


def _bounded_int(digits: str) -> int | float:
    if len(digits) <= _INT_DIGITS:
        return int(digits)
    return float("-inf") if digits[0] == "-" else float("inf")


_SLOW_DECODER = json.JSONDecoder(parse_int=_bounded_int)


def _has_lone_surrogate(document: object) -> bool:
    """Whether a string of the document (a key or a value, at any depth) holds a lone UTF-16 surrogate."""
    stack = [document]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            stack.extend(value)
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
        elif type(value) is str and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def parse_line(line: bytes | str, now_ms: int) -> Event | Reject:
    """Validate one line; `now_ms` bounds the future (SPEC 1.1: at most one day ahead)."""
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _parse_slowly(line, now_ms)
    if type(document) is not dict:
        return _parse_slowly(line, now_ms)
    return validate(document, now_ms)


def _parse_slowly(line: bytes | str, now_ms: int) -> Event | Reject:
    """What orjson refused: invalid UTF-8, not JSON, or JSON it does not take (integers past 64 bits,
    NaN, Infinity, a byte order mark, a lone surrogate)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            return _not_utf8(line.decode("utf-8", errors="replace").rstrip("\r\n"))
    text = line.rstrip("\r\n")
    try:
        document = _load_slowly(text.removeprefix("\ufeff"))  # a BOM: at the start of a file, or of a copy
    except (ValueError, RecursionError):
        return Reject(NOT_JSON, text)
    if type(document) is not dict:
        return Reject(NOT_JSON, text)
    if (_SURROGATE_ESCAPE(text) or not text.isascii()) and _has_lone_surrogate(document):
        return _reject(INVALID_UTF8, document)  # no UTF-8 text, so no lake column, can hold it
    return validate(document, now_ms)


def _not_utf8(text: str) -> Reject:
    """An INVALID_UTF8 reject: its raw line is less `ip` and `ua` when, bad bytes replaced, it is JSON."""
    try:
        document = _load_slowly(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError):
        return Reject(INVALID_UTF8, text)
    return _reject(INVALID_UTF8, document) if type(document) is dict else Reject(INVALID_UTF8, text)


def validate(document: dict, now_ms: int) -> Event | Reject:
    if "_id" not in document:
        return _reject(MISSING_ID, document)
    event_id = _event_id(document["_id"])
    if event_id is None:
        return _reject(BAD_EVENT_ID, document)
    event_type = document.get("event-type")
    if not isinstance(event_type, str) or not event_type:
        return _reject(MISSING_EVENT_TYPE, document)
    if "date" not in document or document["date"] is None:
        return _reject(MISSING_DATE, document)
    ts_ms = parse_date(document["date"])
    if ts_ms is None:
        return _reject(BAD_DATE, document)
    if ts_ms < MIN_EVENT_MS:
        return _reject(DATE_BEFORE_2000, document)
    if ts_ms > now_ms + FUTURE_TOLERANCE_MS:
        return _reject(DATE_IN_FUTURE, document)

    user_id, profile = document.get("userId"), document.get("profil")
    module = document.get("module")
    module = module if isinstance(module, str) and module else None
    if event_type in EVENT_TYPES_USED:
        if not isinstance(user_id, str) or not user_id:
            return _reject(MISSING_USER_ID, document)
        if profile is None or profile == "":
            return _reject(MISSING_PROFILE, document)
        if type(profile) is not str or profile not in ENT_PROFILES:
            return _reject(UNKNOWN_PROFILE, document)
        if event_type == "ACCESS" and module is None:
            return _reject(MISSING_MODULE, document)
    else:
        user_id = user_id if isinstance(user_id, str) and user_id else None
        profile = profile if type(profile) is str and profile in ENT_PROFILES else None

    structures = _id_list(document.get("structures"))
    if structures is None:
        return _reject(BAD_STRUCTURES, document)
    classes = _id_list(document.get("classes"))
    if classes is None:
        return _reject(BAD_CLASSES, document)
    if not (_ids_valid(structures) and _ids_valid(classes)):
        return _reject(BAD_ID, document)
    return Event(event_id, event_type, module, ts_ms, user_id, profile, structures, classes)
