"""Every message in the golden table (messages.py) reads exactly as written there, and the
campaign commands' sentences (sequence_clients.cli.messages.MESSAGES) as campaign_messages.json
holds their templates."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from messages import CASES, Case

from sequence_clients.cli.messages import MESSAGES

CAMPAIGN_TEMPLATES = Path(__file__).with_name("campaign_messages.json")


def test_the_table_names_each_case_once() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_message_reads_as_written(case: Case) -> None:
    assert str(case.build()) == case.text


def test_the_campaign_sentences_read_as_their_templates() -> None:
    """Wording changes are deliberate: rewrite campaign_messages.json with the new table."""
    assert json.loads(CAMPAIGN_TEMPLATES.read_text(encoding="utf-8")) == MESSAGES
    for template in MESSAGES.values():  # every placeholder is a plain name
        for _, name, spec, _ in string.Formatter().parse(template):
            assert name is None or (name.isidentifier() and not spec)
