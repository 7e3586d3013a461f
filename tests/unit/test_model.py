"""The side vocabulary: one stored form ("long"/"short"), one numeric sign (+1/-1), one conversion."""

from __future__ import annotations

import numpy as np
import pytest

from oiradar.errors import InputError
from oiradar.model import LONG, SHORT, SIDES, Side, side_names


def test_sign_and_from_sign_are_inverse() -> None:
    assert (Side.LONG.sign, Side.SHORT.sign) == (LONG, SHORT) == (1, -1)
    assert all(Side.from_sign(s.sign) is s for s in Side)
    assert Side.from_sign(0.5) is Side.LONG and Side.from_sign(-3) is Side.SHORT
    with pytest.raises(ValueError, match="sign"):
        Side.from_sign(0)


def test_slots_follow_sides_order() -> None:
    assert SIDES == (Side.LONG, Side.SHORT)


@pytest.mark.parametrize(
    ("text", "side"),
    [("long", Side.LONG), (" SHORT ", Side.SHORT), ("buy", Side.LONG), ("Sell", Side.SHORT)],
)
def test_parse_reads_what_users_type(text: str, side: Side) -> None:
    assert Side.parse(text) is side


def test_parse_refuses_other_words() -> None:
    with pytest.raises(InputError, match="long or short, got 'up'"):
        Side.parse("up")


def test_side_names_is_vectorised_from_sign() -> None:
    signs = np.array([LONG, SHORT, SHORT, LONG], np.int8)
    assert side_names(signs).tolist() == [Side.from_sign(int(s)).value for s in signs]
