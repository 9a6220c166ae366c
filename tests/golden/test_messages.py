"""Every message in the golden table (messages.py) reads exactly as written there."""

from __future__ import annotations

import pytest
from messages import CASES, Case


def test_the_table_names_each_case_once() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_message_reads_as_written(case: Case) -> None:
    assert str(case.build()) == case.text
