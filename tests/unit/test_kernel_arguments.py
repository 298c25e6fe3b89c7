"""The block kernel is compiled on the promise that no two of its arrays overlap."""

import numpy as np
import pytest

from reriskmc.engine import _check_distinct


def test_separate_arrays_pass():
    a, b = np.zeros((3, 4)), np.zeros(5)
    _check_distinct((a, (b,)), np.zeros(2))


def test_a_view_of_another_argument_is_refused():
    a = np.zeros((3, 4))
    with pytest.raises(ValueError, match="overlap"):
        _check_distinct((a, np.ones(2)), (a[1],))


def test_the_same_array_twice_is_refused():
    a = np.zeros(7)
    with pytest.raises(ValueError, match="overlap"):
        _check_distinct(a, a)
