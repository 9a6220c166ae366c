"""Deterministic fake data shared by both fakes.

Everything comes from one `random.Random` per generator, so the same seed always yields the
same ids, names and timestamps. Seeded timestamps count from a fixed epoch rather than the
wall clock, so two runs on different days still produce identical data.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

# Fixed origin of every seeded timestamp.
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Carlos", "Chen", "Dana", "Elena", "Farah", "Grace", "Hiro",
    "Ines", "Jamal", "Kira", "Liam", "Maya", "Nikhil", "Olga", "Pedro", "Quinn", "Rosa",
    "Sven", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito",
    "Jensen", "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quispe", "Rossi",
    "Schmidt", "Tanaka", "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)  # fmt: skip
COMPANY_WORDS = (
    "Acme", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper",
    "Kestrel", "Lumen", "Maple", "Nimbus", "Orbit", "Pine", "Quartz", "Ridge", "Summit", "Tidal",
)  # fmt: skip
COMPANY_SUFFIXES = ("Labs", "Systems", "Analytics", "Health", "Logistics", "Works", "Cloud")
SEQUENCE_TOPICS = (
    "Q3 outbound", "Webinar follow-up", "Trial nudge", "Renewal check-in", "Event invite",
    "Churn win-back", "Partner intro", "Product launch",
)  # fmt: skip


class DataGen:
    """Seeded source of ids, names, emails and timestamps."""

    def __init__(self, seed: int, stream: str) -> None:
        # Separate streams per vendor/purpose, so adding data to one never shifts the other.
        self.rng = random.Random(f"{seed}/{stream}")

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, nbytes: int = 24) -> str:
        return self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def first_name(self) -> str:
        return self.rng.choice(FIRST_NAMES)

    def last_name(self) -> str:
        return self.rng.choice(LAST_NAMES)

    def company(self) -> tuple[str, str]:
        """(name, domain)."""
        word = self.rng.choice(COMPANY_WORDS)
        suffix = self.rng.choice(COMPANY_SUFFIXES)
        return f"{word} {suffix}", f"{word}{suffix}".lower() + ".example.com"

    def email(self, first: str, last: str, domain: str, n: int) -> str:
        # The running number keeps emails unique even when names repeat.
        return f"{first}.{last}.{n}@{domain}".lower()

    def sequence_name(self, n: int) -> str:
        return f"{self.rng.choice(SEQUENCE_TOPICS)} #{n}"

    def timestamp(self, max_days: int = 180) -> datetime:
        return EPOCH + timedelta(seconds=self.rng.randrange(max_days * 86400))

    def choice(self, options: tuple[str, ...] | list[str]) -> str:
        return self.rng.choice(options)


def iso(moment: datetime) -> str:
    """RFC 3339 with milliseconds and a Z, the form both vendors document."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Exact integer milliseconds since 1970 (floats would make inclusive bounds flaky)."""
    return (moment - UNIX_EPOCH) // ONE_MS


def iso_from_ms(ms: int) -> str:
    return iso(UNIX_EPOCH + ms * ONE_MS)


def iso_from_epoch_seconds(seconds: float) -> str:
    return iso_from_ms(int(seconds * 1000))
