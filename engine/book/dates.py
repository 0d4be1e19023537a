"""Dates in a book: the years a date may name, and how to write one a spreadsheet spelled
otherwise (with a time, day or month first, slashes, an Excel serial day).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_WITH_TIME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})[ T]\d{1,2}:\d{2}\S*")
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})")
_SLASHED_ISO = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_ISO_SHAPED = re.compile(r"\d{4}-\d{2}-\d{2}")
_LONG_YEAR = re.compile(r"\d{5,}-\d{2}-\d{2}([ T]\S+)?")
_UNSHOWN = re.compile(r"<value out of range: -?\d+>")  # pyarrow's text of such a date
_EXCEL_SERIAL = re.compile(r"\d{5}")
MIN_YEAR, MAX_YEAR = dt.MINYEAR, dt.MAXYEAR
"""The years a date may name: those of Python's dates (the ledger records them so)."""
_EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (its day 60, 1900-02-29, never was)


def date_hint(text: str) -> str:
    """How to write a date a spreadsheet spelled otherwise (empty when no spelling is
    recognized), after a colon: with a time, day or month first, slashes, a serial number.

    >>> date_hint("2026-09-18 00:00:00")
    ': write the date alone: 2026-09-18'
    >>> date_hint("18.09.2026"), date_hint("9/18/2026")
    (': write it as 2026-09-18', ': write it as 2026-09-18')
    >>> date_hint("09/10/2026")
    ': write it as 2026-09-10 or 2026-10-09, as meant'
    >>> date_hint("46283")
    ': 46283 reads as an Excel serial day, 2026-09-18: format the column as YYYY-MM-DD'
    >>> date_hint("2026-02-30"), date_hint("2030-13-01")
    (': 2026-02 has 28 days', ': there is no month 13')
    >>> date_hint("0000-01-01"), date_hint("-2026-07-17")
    (': there is no year 0 (years run from 0001 to 9999)', ': a date has no sign')
    >>> date_hint("10183-09-21"), date_hint("<value out of range: 2147483647>")
    (': years run from 0001 to 9999', ': years run from 0001 to 9999')
    """
    if found := _WITH_TIME.fullmatch(text):
        year, month = int(found[1]), int(found[2])
        iso = _iso(year, month, int(found[3]))
        return f": write the date alone: {iso}" if iso else _no_such_day(year, month)
    if found := _NUMERIC_DATE.fullmatch(text):
        first, second, year = int(found[1]), int(found[3]), int(found[4])
        readings = sorted({_iso(year, m, d) for m, d in ((first, second), (second, first))} - {""})
        meant = ", as meant" if len(readings) > 1 else ""
        return f": write it as {' or '.join(readings)}{meant}" if readings else ""
    if found := _SLASHED_ISO.fullmatch(text):
        iso = _iso(int(found[1]), int(found[2]), int(found[3]))
        return f": write it as {iso}" if iso else ""
    if _ISO_SHAPED.fullmatch(text):
        return _no_such_day(int(text[:4]), int(text[5:7]))
    if _LONG_YEAR.fullmatch(text) or _UNSHOWN.fullmatch(text):
        return f": years run from {MIN_YEAR:04d} to {MAX_YEAR}"
    if text.startswith("-") and _ISO_SHAPED.fullmatch(text[1:]):
        return ": a date has no sign"
    if _EXCEL_SERIAL.fullmatch(text) and int(text) > 60:
        day = _EXCEL_EPOCH + dt.timedelta(days=int(text))
        return f": {text} reads as an Excel serial day, {day}: format the column as YYYY-MM-DD"
    return ""


def _no_such_day(year: int, month: int) -> str:
    """Why a year, month and day written as digits name no day."""
    if year < MIN_YEAR:
        return f": there is no year 0 (years run from {MIN_YEAR:04d} to {MAX_YEAR})"
    if not 1 <= month <= 12:
        return f": there is no month {month}"
    return f": {year:04d}-{month:02d} has {calendar.monthrange(year, month)[1]} days"


def _iso(year: int, month: int, day: int) -> str:
    """The date as YYYY-MM-DD, or "" when there is no such day."""
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return ""
