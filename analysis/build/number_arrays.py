"""Flat JSON arrays of numbers (as raw bytes) -> one float64 array, parsed by numpy.

A COCO file's keypoints are ~90 % of its annotation values: decoded into Python lists
they cost a Python object per value (or an interned small int) and a per-value
conversion back to float64.  Here they are kept as zero-copy :class:`msgspec.Raw` views
of the file's bytes, joined, and parsed by vectorised numpy over the bytes: no Python
object per value.

Only what this parser can read exactly is accepted: every value a plain JSON integer
(at most 18 digits) or decimal (``-?digits.digits``, at most 2**53 without its point),
every record ``null``, absent or one flat array.  For anything else (an exponent, a
nested array, a string, ``true``, a record that is a bare number, NaN sentinels) it
returns None and the caller decodes those records the exact way (msgspec into Python
lists), which also finds and names any error.  The values it returns equal that way's:
integers through int64 (exact) converted to float64 (rounded to nearest even, as
Python's ``float(int)``); decimals as ``mantissa / 10**k``, both exact doubles, so the
quotient is the correctly rounded decimal (Clinger's fast path), as msgspec's parse is.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

# Byte classes.
_SEPARATOR, _DIGIT, _MINUS, _DOT, _OPEN, _CLOSE, _OTHER = range(7)
_CLASS = np.full(256, _OTHER, np.uint8)
_CLASS[list(b" \t\r\n,")] = _SEPARATOR
_CLASS[list(b"0123456789")] = _DIGIT
_CLASS[ord("-")] = _MINUS
_CLASS[ord(".")] = _DOT
_CLASS[ord("[")] = _OPEN
_CLASS[ord("]")] = _CLOSE
#: ``bytes.translate`` tables (a C loop over the bytes; indexing a numpy table with the
#: bytes would first widen every byte to a 64-bit index)
_CLASS_TABLE = _CLASS.tobytes()
_NUMBER_TABLE = ((_CLASS >= _DIGIT) & (_CLASS <= _DOT)).astype(np.uint8).tobytes()
#: Digits of an integer that int64 holds exactly (10**18 < 2**63).
MAX_INTEGER_DIGITS = 18
#: A decimal's digits as an integer must be an exact double for the quotient to be exact.
MAX_DECIMAL_MANTISSA = 2**53
_POWERS_OF_TEN = 10.0 ** np.arange(23)  # exact doubles up to 1e22
_NULL = b"null"
_PADDING = b" " * (MAX_INTEGER_DIGITS + 2)  #: after the text, so that a token's bytes can be read at a fixed width


def parse_number_arrays(
    records: Sequence[msgspec.Raw],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
    """(values per record, every value in order) of ``records``, each a raw JSON value.

    A record that is empty (the field was absent) or ``null`` has 0 values.  None when
    a record is anything but a flat array of plain numbers (see the module's docstring).
    """
    n = len(records)
    sizes = np.fromiter(map(len, records), np.int64, n)
    text = b",".join(records) + _PADDING
    data = np.frombuffer(text, np.uint8)
    # record i is data[starts[i] : starts[i] + sizes[i]]
    starts = np.zeros(n, np.int64)
    if n:
        np.cumsum(sizes[:-1] + 1, out=starts[1:])
    classes = np.frombuffer(text.translate(_CLASS_TABLE), np.uint8)
    present = sizes > 0
    first = np.full(n, _SEPARATOR, np.uint8)
    first[present] = data[starts[present]]
    null = first == ord("n")
    if null.any():
        if not (sizes[null] == len(_NULL)).all():
            return None
        where = starts[null][:, None] + np.arange(len(_NULL))
        if not (data[where] == np.frombuffer(_NULL, np.uint8)).all():
            return None
        classes = classes.copy()
        classes[where] = _SEPARATOR
    arrays = present & ~null
    if (classes == _OTHER).any():
        return None
    # every array record is one flat array: it starts with '[' and ends with ']', and
    # there are no other brackets (counted, not located: cheaper)
    n_arrays = int(np.count_nonzero(arrays))
    if not (
        (data[starts[arrays]] == ord("[")).all()
        and (data[(starts + sizes - 1)[arrays]] == ord("]")).all()
        and np.count_nonzero(classes == _OPEN) == n_arrays
        and np.count_nonzero(classes == _CLOSE) == n_arrays
    ):
        return None
    is_number = np.frombuffer(text.translate(_NUMBER_TABLE), np.bool_)  # 'null' holds no number byte
    # Numbers start and end where is_number changes; the text's first byte is no number
    # ('[' or the separator after an absent record) and it ends in padding, so the changes
    # alternate start, end, start, ...
    changes = np.flatnonzero(is_number[1:] != is_number[:-1]) + 1
    token_start, token_end = np.ascontiguousarray(changes[0::2]), np.ascontiguousarray(changes[1::2])
    lengths = np.searchsorted(token_start, starts + sizes) - np.searchsorted(token_start, starts)
    values = _token_values(data, classes, token_start, token_end)
    if values is None:
        return None
    return lengths, values


def _token_values(
    data: npt.NDArray[np.uint8],
    classes: npt.NDArray[np.uint8],
    token_start: npt.NDArray[np.int64],
    token_end: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64] | None:
    """The value of each token ``data[token_start:token_end]`` (valid JSON numbers without
    exponent: msgspec checked the syntax), or None when one cannot be parsed exactly here."""
    if not len(token_start):
        return np.zeros(0, np.float64)
    negative = data[token_start] == ord("-")
    first_digit = token_start
    if negative.any():
        first_digit = token_start + negative
    width = token_end - first_digit
    longest = int(width.max())
    if longest > MAX_INTEGER_DIGITS + 1:
        return None
    # Byte k of every token as row k (one gather; ``data`` ends in padding, so no index
    # runs past it), then Horner's rule down the rows: whole-row vector operations.
    row = np.arange(longest)[:, None]
    inside = row < width
    byte = data[first_digit + row]
    has_dot = bool((classes == _DOT).any())
    is_digit = inside & (byte != ord(".")) if has_dot else inside  # '.' is the only other byte in a number
    digit = (byte - np.uint8(ord("0"))) * is_digit
    scale = np.uint8(1) + np.uint8(9) * is_digit  # 10 where a digit follows, else 1
    mantissa = digit[0].astype(np.int64)
    for k in range(1, longest):
        mantissa *= scale[k]
        mantissa += digit[k]
    if has_dot:
        n_digits = is_digit.sum(axis=0)
        after_dot = n_digits < width
        fraction_digits = n_digits - np.argmax(inside & ~is_digit, axis=0)
    else:
        n_digits, after_dot, fraction_digits = width, np.zeros(len(width), bool), width
    if int(n_digits.max()) > MAX_INTEGER_DIGITS:
        return None
    integer = ~after_dot
    mantissa[negative & integer] *= -1  # in integers: "-0" is 0, as int("-0") is
    values = mantissa.astype(np.float64)
    if after_dot.any():
        if int(mantissa[after_dot].max()) > MAX_DECIMAL_MANTISSA:
            return None
        values[after_dot] /= _POWERS_OF_TEN[fraction_digits[after_dot]]
        decimal_negative = negative & after_dot
        values[decimal_negative] = -values[decimal_negative]  # "-0.0" is -0.0, as float("-0.0") is
    return values
