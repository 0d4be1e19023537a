"""Money as the trace reports it: a decimal rounded half-up to the cent.

Amounts are float64 inside the vectorized plan; the trace carries them as
:class:`~decimal.Decimal` cents so that the JSON shows ``"1234.57"`` and never a float
``repr`` such as ``1234.5699999999999``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

CENT = Decimal("0.01")


def to_cents(amount: float | int | str | Decimal) -> Decimal:
    """Round an amount half-up to the cent.

    Floats are rounded by the engine's
    :func:`~marginlex.engine.kernels.money.round_half_up` (an amount a few ulps from a half
    cent is the half cent: 2.675, stored as 2.67499999..., and 10.10 x 85%,
    8.584999999999999, round up), so a figure reads the same in a trace and in the engine.

    Args:
        amount: a float, int, decimal string or Decimal.

    Returns:
        The amount as a Decimal with exactly two places.

    Raises:
        ValueError: the amount is NaN or infinite.

    >>> to_cents(2.675), to_cents(-0.005), to_cents("10"), to_cents(10.10 * 0.85)
    (Decimal('2.68'), Decimal('-0.01'), Decimal('10.00'), Decimal('8.59'))
    """
    if isinstance(amount, float):
        # numpy only now: reading a ledger (explain, ledger, verify) passes decimal strings
        from marginlex.engine.kernels.money import round_half_up  # noqa: PLC0415

        amount = repr(float(round_half_up(amount)))  # NaN and inf are refused below
    value = Decimal(amount)
    if not value.is_finite():
        raise ValueError(f"money must be a finite amount, got {amount!r}")
    rounded = value.quantize(CENT, rounding=ROUND_HALF_UP)
    # -0.00 and 0.00 must serialize identically.
    return rounded + Decimal("0.00") if rounded.is_zero() else rounded


def _validate(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, float | int | str | Decimal):
        raise ValueError(f"money must be a number or a decimal string, got {value!r}")
    return to_cents(value)


Money = Annotated[
    Decimal,
    BeforeValidator(_validate),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+\.\d{2}$",
            "description": "USD, rounded half-up to the cent, as a decimal string.",
        }
    ),
]
"""A USD amount in the trace: rounded half-up to the cent, serialized as a string.

Pydantic writes a Decimal as ``str(value)``; values always carry exactly two places (see
:func:`to_cents`), so the JSON reads ``"1234.50"``.
"""
