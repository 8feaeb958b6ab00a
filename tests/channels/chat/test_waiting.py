"""The expected wait a chat customer is shown."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from contact_center.channels.chat.waiting import DEFAULT_HANDLE_SECONDS, expected_wait


def test_one_agent_frees_up_every_aht_and_more_agents_share_the_queue():
    assert expected_wait(1, 300.0, 1) == 300.0
    assert expected_wait(3, 300.0, 2) == 450.0
    assert expected_wait(2, None, 1) == 2 * DEFAULT_HANDLE_SECONDS
    assert math.isinf(expected_wait(1, 300.0, 0))
    assert expected_wait(0, 300.0, 1) == 0.0


@given(st.integers(1, 500), st.floats(1, 10_000), st.integers(1, 200))
def test_the_wait_grows_with_the_place_and_shrinks_with_agents(position, aht, agents):
    wait = expected_wait(position, aht, agents)
    assert wait <= expected_wait(position + 1, aht, agents)
    assert wait >= expected_wait(position, aht, agents + 1)
