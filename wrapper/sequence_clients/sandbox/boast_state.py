"""State of the Boast fake: seeded accounts, contacts, sequences and sequence enrollments.

OAuth lives in boast_auth.py (BoastState builds on BoastAuth). The HTTP layer (boast.py)
validates input and calls into this module under `state.lock`; the inspection methods take the
lock themselves, as tests call them from another thread than the server's.

Seed layout (per seed, byte-identical every run):
- `account_ids[0]` has N_CONTACTS[0] contacts and sequences with statuses SEQUENCE_STATUSES[0];
  its last N_SEEDED_ENROLLMENTS contacts carry enrollment history (completed, removed and
  active), so tests and benchmarks wanting fresh contacts take them from the front.
- `account_ids[1]` is small: it exists to show that ids of one account are 404 in another.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import boast_seed as seeding
from .boast_auth import BoastAuth
from .data import DataGen, iso, iso_from_epoch_seconds

Json = dict[str, Any]
N_CONTACTS = (3000, 50)
SEQUENCE_STATUSES = (("active",) * 6 + ("paused", "archived"), ("active", "active", "paused"))
N_SEEDED_ENROLLMENTS = 60
SEEDED_ENROLLMENT_STATUSES = ("completed", "removed", "active")
PAGE_SIZE = 25


@dataclass
class EnrollmentRecord:
    n: int  # creation ordinal: list order
    id: str
    account_id: str
    contact_id: str
    sequence_id: str
    response_id: str | None
    status: str
    created_at: str
    updated_at: str

    @property
    def active(self) -> bool:
        return self.status == "active"

    def render(self) -> Json:
        return {
            "id": self.id,
            "contact_id": self.contact_id,
            "sequence_id": self.sequence_id,
            "response_id": self.response_id,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class BoastState(BoastAuth):
    """Everything the Boast fake knows; tests read it through `Sandbox.boast`.

    Credentials: `client_id`, `client_secret`; `issue_token()` gives a valid TokenPair
    (access_token, refresh_token, expires_in) without the OAuth round trip, and
    `mint_authorization_code(redirect_uri)` a code for the authorization_code grant.
    Data: `accounts`, `account_ids`, `contacts[account_id]`, `sequences[account_id]`,
    `active_sequences(account_id)`, `enrollments` (id -> EnrollmentRecord).
    Counters: `total_created`, `contacts_created`, `refresh_count`, `token_log`.
    """

    def __init__(
        self,
        seed: int = 0,
        token_ttl: float = 7200.0,
        clock: Callable[[], float] = time.time,
        n_contacts: int = N_CONTACTS[0],
        reuse_detection: bool = True,
    ) -> None:
        super().__init__(seed, token_ttl, clock, reuse_detection)
        self.seed = seed
        gen = DataGen(seed, "boast/data")
        self._runtime = DataGen(seed, "boast/runtime")
        self.accounts = [seeding.account(gen) for _ in N_CONTACTS]
        self.account_ids = [a["id"] for a in self.accounts]
        self.sequences: dict[str, list[Json]] = {}
        self.contacts: dict[str, list[Json]] = {}
        contact_counts = (n_contacts, *N_CONTACTS[1:])
        for account_id, statuses, count in zip(
            self.account_ids, SEQUENCE_STATUSES, contact_counts, strict=True
        ):
            self.sequences[account_id] = [
                seeding.sequence(gen, i + 1, status) for i, status in enumerate(statuses)
            ]
            self.contacts[account_id] = [seeding.contact(gen, i) for i in range(count)]
        self._accounts_by_id = {a["id"]: a for a in self.accounts}
        self._contacts_by_id = {
            c["id"]: (account_id, c) for account_id, cs in self.contacts.items() for c in cs
        }
        self._sequences_by_id = {
            s["id"]: (account_id, s) for account_id, ss in self.sequences.items() for s in ss
        }
        self.enrollments: dict[str, EnrollmentRecord] = {}
        self._by_account: dict[str, list[EnrollmentRecord]] = {a: [] for a in self.account_ids}
        self._active: dict[tuple[str, str], str] = {}  # (contact, sequence) -> enrollment id
        self.total_created = 0  # enrollments created through the API
        self.contacts_created = 0
        self._n = 0
        self._seed_history(gen)

    # --- lookups (callers hold the lock) ---------------------------------------------------
    def account(self, account_id: str) -> Json | None:
        return self._accounts_by_id.get(account_id)

    def contact(self, account_id: str, contact_id: str) -> Json | None:
        found = self._contacts_by_id.get(contact_id)
        return found[1] if found and found[0] == account_id else None

    def sequence(self, account_id: str, sequence_id: str) -> Json | None:
        found = self._sequences_by_id.get(sequence_id)
        return found[1] if found and found[0] == account_id else None

    def enrollment(self, account_id: str, enrollment_id: str) -> EnrollmentRecord | None:
        record = self.enrollments.get(enrollment_id)
        return record if record and record.account_id == account_id else None

    def enrollments_of(self, account_id: str) -> list[EnrollmentRecord]:
        return self._by_account[account_id]

    def active_enrollment(self, contact_id: str, sequence_id: str) -> EnrollmentRecord | None:
        enrollment_id = self._active.get((contact_id, sequence_id))
        return self.enrollments[enrollment_id] if enrollment_id else None

    def active_sequences(self, account_id: str) -> list[Json]:
        return [s for s in self.sequences[account_id] if s["status"] == "active"]

    # --- inspection for tests ----------------------------------------------------------------
    def active_enrollment_count(
        self, sequence_id: str | None = None, contact_id: str | None = None
    ) -> int:
        with self.lock:
            return sum(
                1
                for e in self.enrollments.values()
                if e.active
                and (sequence_id is None or e.sequence_id == sequence_id)
                and (contact_id is None or e.contact_id == contact_id)
            )

    def duplicate_active_enrollments(self) -> list[tuple[str, str]]:
        """(contact_id, sequence_id) pairs with more than one active enrollment: must be empty.

        Counted from the records, not from the index that prevents duplicates, so a bug in
        that index shows up here.
        """
        with self.lock:
            seen: dict[tuple[str, str], int] = {}
            for e in self.enrollments.values():
                if e.active:
                    key = (e.contact_id, e.sequence_id)
                    seen[key] = seen.get(key, 0) + 1
            return [key for key, count in seen.items() if count > 1]

    def error_body(self, status: int, code: str, detail: str) -> Json:
        """Boast's error shape; the fault middleware renders injected 429/5xx with it."""
        return {"errors": [{"detail": detail, "code": code, "status": status}]}

    # --- mutations -------------------------------------------------------------------------
    def create_contact(self, account_id: str, fields: Json) -> Json:
        now = self.now_iso()
        contact_id = self._runtime.uuid()
        contact: Json = {"id": contact_id}
        for name in seeding.CONTACT_FIELDS:
            contact[name] = fields.get(name)
        contact |= {
            "location_id": None,
            "staff_id": None,
            "source": fields.get("source") or "api",
            "created_at": now,
            "updated_at": now,
            "links": seeding.links(contact_id),
        }
        self.contacts[account_id].append(contact)
        self._contacts_by_id[contact_id] = (account_id, contact)
        self.contacts_created += 1
        return contact

    def create_enrollment(
        self, account_id: str, contact_id: str, sequence_id: str
    ) -> EnrollmentRecord:
        now = self.now_iso()
        record = EnrollmentRecord(
            n=self._next_n(),
            id=self._runtime.uuid(),
            account_id=account_id,
            contact_id=contact_id,
            sequence_id=sequence_id,
            response_id=None,
            status="active",
            created_at=now,
            updated_at=now,
        )
        self._add(record)
        self.total_created += 1
        return record

    def remove_enrollment(self, record: EnrollmentRecord) -> None:
        record.status = "removed"
        record.updated_at = self.now_iso()
        key = (record.contact_id, record.sequence_id)
        if self._active.get(key) == record.id:
            del self._active[key]

    # --- internals -------------------------------------------------------------------------
    def now_iso(self) -> str:
        return iso_from_epoch_seconds(self.clock())

    def _next_n(self) -> int:
        self._n += 1
        return self._n

    def _add(self, record: EnrollmentRecord) -> None:
        self.enrollments[record.id] = record
        self._by_account[record.account_id].append(record)
        if record.active:
            self._active[(record.contact_id, record.sequence_id)] = record.id

    def _seed_history(self, gen: DataGen) -> None:
        account_id = self.account_ids[0]
        sequences = self.active_sequences(account_id)
        for i, contact in enumerate(self.contacts[account_id][-N_SEEDED_ENROLLMENTS:]):
            status = SEEDED_ENROLLMENT_STATUSES[i % len(SEEDED_ENROLLMENT_STATUSES)]
            created = gen.timestamp()
            self._add(
                EnrollmentRecord(
                    n=self._next_n(),
                    id=gen.uuid(),
                    account_id=account_id,
                    contact_id=contact["id"],
                    sequence_id=sequences[i % len(sequences)]["id"],
                    response_id=gen.uuid() if status == "completed" else None,
                    status=status,
                    created_at=iso(created),
                    updated_at=iso(created + seeding.WEEK if status != "active" else created),
                )
            )
