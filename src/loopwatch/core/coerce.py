"""Casting input values to the store's column types, element by element when Arrow cannot.

:func:`coerce` turns a column of input (an Arrow array or a list of Python values)
into an array of the stored type; an element that does not convert becomes null and
is reported by its index with the reason, so that :class:`~loopwatch.core.schema.TableSchema`
can quarantine that row and land the others. NaN becomes null; naive times are read in
the given zone.

Examples
--------
>>> from zoneinfo import ZoneInfo
>>> import pyarrow as pa
>>> arr, bad = coerce(["1.5", "abc", None], pa.float64(), ZoneInfo("UTC"))
>>> arr.to_pylist(), bad
([1.5, None, None], {1: "expected a number; got 'abc'"})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["coerce"]

_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else float(value)
    if isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number; got {_describe(value)}") from None
        return None if math.isnan(out) else out
    if hasattr(value, "__float__") and not isinstance(value, date):
        return _to_float(float(value))
    raise ValueError(f"expected a number; got {_describe(value)}")


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, float) and not math.isnan(value):
        return repr(value)
    raise ValueError(f"expected a string; got {_describe(value)}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false; got {_describe(value)}")


def _timestamp_parser(zone: ZoneInfo) -> Callable[[Any], datetime]:
    def parse(value: Any) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(
                    f"expected an ISO 8601 time such as 2026-01-31T12:00:00Z; got {_describe(value)}"
                ) from None
        if not isinstance(value, datetime):
            raise ValueError(f"expected a time; got {_describe(value)}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        moment: datetime = value.astimezone(UTC)
        return moment

    return parse

def _slow(values: Iterable[Any], target: pa.DataType, zone: ZoneInfo) -> tuple[pa.Array, dict[int, str]]:
    convert: Callable[[Any], Any]
    if pa.types.is_floating(target):
        convert = _to_float
    elif pa.types.is_string(target):
        convert = _to_str
    elif pa.types.is_boolean(target):
        convert = _to_bool
    else:
        convert = _timestamp_parser(zone)
    out: list[Any] = []
    bad: dict[int, str] = {}
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
            continue
        try:
            out.append(convert(value))
        except (ValueError, TypeError, OverflowError) as exc:
            bad[i] = str(exc)
            out.append(None)
    return pa.array(out, target), bad


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _aware_times(values: list[Any], target: pa.DataType) -> pa.Array | None:
    """Aware datetimes as microseconds since the epoch, then Arrow's cast; ``None`` if one is naive.

    Arrow converts an aware datetime through its ``tzinfo`` one by one, about twice as slow
    as this exact integer arithmetic; the decision logger's every row has a time.
    """
    try:
        micros = [None if v is None else (v - _EPOCH) // _MICROSECOND for v in values]
    except TypeError:  # a naive time: the zone decides what it means
        return None
    if pa.types.is_timestamp(target) and target.unit != "us":
        return None
    return pa.array(micros, pa.int64()).cast(target)


_BOOL_TYPES = frozenset({bool, type(None)})
_TIME_TYPES = frozenset({datetime, type(None)})


def coerce(
    values: pa.Array | pa.ChunkedArray | list[Any], target: pa.DataType, zone: ZoneInfo
) -> tuple[pa.Array, dict[int, str]]:
    """Cast ``values`` to ``target``; bad elements become null and are reported by index."""
    if isinstance(values, list):
        naive_times = pa.types.is_timestamp(target) and zone != ZoneInfo("UTC") and any(
            isinstance(v, datetime) and v.tzinfo is None for v in values)
        first = next((v for v in values if v is not None), None)
        # a typed build from strings fails slowly; strings go through Arrow's casts instead
        typed = not isinstance(first, str) or pa.types.is_string(target)
        # a typed build would also take 2 or NaN as true and an int as a time; only exact
        # types take that path, so a list validates as the same values in a table would
        # (the set of exact types is built at C speed; the isinstance scan is the fallback for
        # subclasses such as pandas' Timestamp)
        if pa.types.is_boolean(target):
            typed = set(map(type, values)) <= _BOOL_TYPES or all(
                v is None or isinstance(v, bool) for v in values)
        elif pa.types.is_timestamp(target):
            typed = set(map(type, values)) <= _TIME_TYPES or all(
                v is None or isinstance(v, datetime) for v in values)
            if not typed and any(isinstance(v, int | float) for v in values):
                return _slow(values, target, zone)  # Arrow infers a number among times as µs
        if not naive_times and typed:
            if pa.types.is_timestamp(target) and (moments := _aware_times(values, target)) is not None:
                return moments, {}
            try:
                return _nan_to_null(pa.array(values, target)), {}
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                pass
        try:
            inferred = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            return _slow(values, target, zone)
        if pa.types.is_binary(inferred.type) or pa.types.is_large_binary(inferred.type):
            # Arrow reads str and bytes together as bytes; the str values are still good
            return _slow(values, target, zone)
        return coerce(inferred, target, zone)
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.type == target:
        return _nan_to_null(arr), {}
    if pa.types.is_timestamp(target):
        if pa.types.is_timestamp(arr.type) and arr.type.tz is None:
            try:
                arr = pc.assume_timezone(arr, timezone=zone.key)
            except pa.ArrowInvalid:  # a local time that DST makes ambiguous or skips
                return _slow(arr.to_pylist(), target, zone)
        if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
            # nanoseconds (pandas) are truncated to the stored microseconds
            return arr.cast(target, safe=False), {}
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            def with_offset(a: Any) -> Any:
                return a.cast(target)

            def local(a: Any) -> Any:
                return pc.assume_timezone(a.cast(pa.timestamp("us")), timezone=zone.key).cast(target)

            for parse in (with_offset, local):
                try:
                    return parse(arr), {}
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    pass
        return _slow(arr.to_pylist(), target, zone)
    if pa.types.is_string(target) and pa.types.is_floating(arr.type):
        return _slow(arr.to_pylist(), target, zone)
    if pa.types.is_boolean(target) and not pa.types.is_null(arr.type):
        # Arrow casts any non-zero number (and NaN) to true; only 0 and 1 are booleans
        return _slow(arr.to_pylist(), target, zone)
    try:
        return _nan_to_null(arr.cast(target)), {}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return _slow(arr.to_pylist(), target, zone)


def _nan_to_null(arr: pa.Array) -> pa.Array:
    # NaN is stored as null: engines disagree on NaN (ENGINE-NOTES), and a model input
    # that is not a number is missing.
    if pa.types.is_floating(arr.type) and len(arr):
        nan = pc.is_nan(arr)
        if pc.any(nan).as_py():
            return pc.if_else(nan, pa.scalar(None, arr.type), arr)
    return arr
