"""State of the Unify fake: seeded data, enrollments, query jobs, and their JSON renderings.

Shapes follow the schemas of spec/unify (Enrollment, Sequence, SequenceEnrollment, ...). The
HTTP layer (unify.py) validates input and calls into this module under `state.lock`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import unify_seed as seed
from .data import DataGen, iso_from_ms, to_ms

N_USERS = 3
N_MAILBOXES = 6
N_SEQUENCES = 6
N_PEOPLE = 3000
N_COMPANIES = 300
# The last people carry seeded enrollment history (some of it active); tests and benchmarks
# that need people free to enroll take them from the front of `people`.
N_SEEDED_ENROLLMENTS = 60
WEEK_MS = 7 * 86400 * 1000
# block_reenrollment_units -> milliseconds (a month and a year as 30 and 365 days).
UNIT_MS = {
    "MINUTE": 60_000,
    "HOUR": 3_600_000,
    "DAY": 86_400_000,
    "WEEK": WEEK_MS,
    "MONTH": 30 * 86_400_000,
    "YEAR": 365 * 86_400_000,
}
# The error_code of a FAILED job (the spec's field is a free string; the value is the sandbox's).
JOB_FAILED_CODE = "query_failed"
STEP_NAMESPACE = uuid.UUID("5d0c4a52-7e0b-4c1e-9a43-2f6f0c1d7b11")
Json = dict[str, Any]


@dataclass
class EnrollmentRecord:
    n: int  # creation ordinal: the list order and what cursors point at
    id: str
    sequence_id: str
    person_id: str
    mailbox_id: str
    play_id: str | None
    # Times are integer milliseconds since 1970: the API's resolution, compared exactly.
    created_at: int
    updated_at: int
    started_at: int | None
    ended_at: int | None
    status: str = "IN_PROGRESS"
    is_paused: bool = False
    is_canceled: bool = False
    is_replied: bool = False
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status == "IN_PROGRESS" and not self.is_canceled


@dataclass
class Job:
    n: int
    id: str
    kind: str  # "enrollments" or "steps"
    filter: Json
    created_at: int
    expires_at: int
    # When the job settles (sandbox clock), and whether it settles FAILED; drawn at creation.
    done_at: int
    fails: bool
    status: str = "IN_PROGRESS"
    canceled_at: int | None = None
    error_code: str | None = None
    # The rows as of creation: results are a snapshot, immutable once the job is FINISHED.
    rows: list[Json] | None = None


@dataclass
class UnifyState:
    seed: int = 0
    job_ttl: float = 86400.0
    job_seconds: float = 3.0
    job_failure_rate: float = 0.0
    clock: Callable[[], float] = time.time
    n_people: int = N_PEOPLE
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        gen = DataGen(self.seed, "unify/data")
        self._runtime = DataGen(self.seed, "unify/runtime")
        # Its own stream, so failing jobs never shift the ids the runtime stream hands out.
        self._job_outcomes = DataGen(self.seed, "unify/jobs").rng
        self.api_keys = ["sandbox_unify_" + DataGen(self.seed, "unify/keys").token(16)]
        self.users = [seed.user(gen) for _ in range(N_USERS)]
        self.mailboxes = [seed.mailbox(gen, self.users[i % N_USERS], i) for i in range(N_MAILBOXES)]
        self.sequences = [
            seed.sequence(gen, self.users[i % N_USERS], i + 1) for i in range(N_SEQUENCES)
        ]
        self.steps = {seq["id"]: seed.steps(gen, seq["id"]) for seq in self.sequences}
        self.companies = [seed.company(gen) for _ in range(N_COMPANIES)]
        self.people = [
            seed.person(gen, gen.rng.choice(self.companies), i) for i in range(self.n_people)
        ]
        self.plays = [{"id": gen.uuid(), "name": f"Play {i}"} for i in (1, 2)]
        self.deleted_sequence_ids: set[str] = set()
        self._sequences_by_id = {seq["id"]: seq for seq in self.sequences}
        self._people_by_id = {p["id"]: p for p in self.people}
        self._mailboxes_by_id = {m["id"]: m for m in self.mailboxes}
        self._mailboxes_by_email = {m["email"].lower(): m for m in self.mailboxes}
        self._plays_by_id = {p["id"]: p for p in self.plays}
        self.enrollments: dict[str, EnrollmentRecord] = {}
        self._active_by_person: dict[str, str] = {}
        self.jobs: dict[str, Job] = {}
        self.total_created = 0
        self.cancel_calls: Counter[str] = Counter()  # DELETE requests per enrollment id
        self._n = 0
        for i, person in enumerate(self.people[-N_SEEDED_ENROLLMENTS:]):
            self._seed_enrollment(gen, person["id"], i)

    # --- lookups ---------------------------------------------------------------------------
    def sequence(self, sequence_id: str) -> Json | None:
        if sequence_id in self.deleted_sequence_ids:
            return None
        return self._sequences_by_id.get(sequence_id)

    def live_sequences(self) -> list[Json]:
        return [s for s in self.sequences if s["id"] not in self.deleted_sequence_ids]

    def sequence_record(self, sequence_id: str) -> Json:
        """A sequence even when deleted (enrollments keep pointing at it)."""
        return self._sequences_by_id[sequence_id]

    def person(self, person_id: str) -> Json | None:
        return self._people_by_id.get(person_id)

    def mailbox(self, mailbox_id: str) -> Json:
        return self._mailboxes_by_id[mailbox_id]

    def play(self, play_id: str | None) -> Json | None:
        return self._plays_by_id.get(play_id) if play_id else None

    def reply_message(self, e: EnrollmentRecord) -> Json | None:
        """The ReplyEmailMessage of a replied enrollment (only seeded ones have replies)."""
        if not e.is_replied:
            return None
        return {
            "id": step_id(e.id, 0),
            "subject": "Re: Quick question",
            "classifications": [{"id": step_id(e.id, -1), "category": "POSITIVE"}],
        }

    def mailbox_by_email(self, email: str) -> Json | None:
        return self._mailboxes_by_email.get(email.lower())

    def active_enrollment_of(self, person_id: str) -> EnrollmentRecord | None:
        enrollment_id = self._active_by_person.get(person_id)
        return self.enrollments[enrollment_id] if enrollment_id else None

    # --- inspection for tests ----------------------------------------------------------------
    def active_enrollment_count(self, sequence_id: str | None = None) -> int:
        with self.lock:
            return sum(
                1
                for e in self.enrollments.values()
                if e.active and (sequence_id is None or e.sequence_id == sequence_id)
            )

    def duplicate_active_enrollments(self) -> list[tuple[str, str]]:
        """(person_id, sequence_id) of every active enrollment of a person having more than one.

        Unify allows one active enrollment per person across all sequences, so any entry here
        means the fake (or a race in it) let a duplicate through.
        """
        with self.lock:
            by_person: dict[str, list[EnrollmentRecord]] = {}
            for e in self.enrollments.values():
                if e.active:
                    by_person.setdefault(e.person_id, []).append(e)
            return [
                (e.person_id, e.sequence_id)
                for records in by_person.values()
                if len(records) > 1
                for e in records
            ]

    def error_body(self, status: int, code: str, message: str) -> Json:
        # The spec's enums: 429 is "rate_limited" and every 5xx is "error".
        if status >= 500:
            code = "error"
        elif status == 429:
            code = "rate_limited"
        return {"status": code, "message": message}

    # --- mutations -------------------------------------------------------------------------
    def create_enrollment(self, sequence_id: str, person_id: str, mailbox_id: str) -> Json:
        now = self.now_ms()
        record = EnrollmentRecord(
            n=self._next_n(),
            id=self._runtime.uuid(),
            sequence_id=sequence_id,
            person_id=person_id,
            mailbox_id=mailbox_id,
            play_id=None,
            created_at=now,
            updated_at=now,
            started_at=now,
            ended_at=None,
        )
        self.enrollments[record.id] = record
        self._active_by_person[person_id] = record.id
        self.total_created += 1
        return self.render_enrollment(record)

    def reenrollment_refusal(self, sequence: Json, person_id: str) -> str | None:
        """Why the sequence's ruleset refuses this person again, or None when it allows it.

        With `allow_same_sequence_reenrollment: false`, any earlier enrollment of the person in
        the sequence (finished or canceled) refuses; with true, `block_reenrollment_value`
        `block_reenrollment_units` after the last one ended must have passed.
        """
        earlier = [
            e
            for e in self.enrollments.values()
            if e.person_id == person_id and e.sequence_id == sequence["id"]
        ]
        if not earlier:
            return None
        rules = sequence["sequence_ruleset"] or {}
        if not rules.get("allow_same_sequence_reenrollment", False):
            return "This sequence does not allow re-enrolling a person"
        value, units = rules.get("block_reenrollment_value"), rules.get("block_reenrollment_units")
        if value and units:
            last_end = max(e.ended_at or e.updated_at for e in earlier)
            if self.now_ms() < last_end + value * UNIT_MS[units]:
                return f"Re-enrollment is blocked for {value} {units.lower()}(s) after the last enrollment ended"
        return None

    def cancel_enrollment(self, record: EnrollmentRecord) -> None:
        self.cancel_calls[record.id] += 1  # tests: no enrollment is cancelled twice
        if record.is_canceled:
            return  # cancelling twice changes nothing, as DELETE is idempotent
        now = self.now_ms()
        record.is_canceled = True
        record.status = "FINISHED"
        record.ended_at = now
        self._touch(record, now)
        if self._active_by_person.get(record.person_id) == record.id:
            del self._active_by_person[record.person_id]

    def set_paused(self, record: EnrollmentRecord, paused: bool) -> None:
        if record.is_paused != paused:
            record.is_paused = paused
            self._touch(record, self.now_ms())

    def set_sequence_paused(self, sequence: Json, paused: bool) -> None:
        sequence["is_paused"] = paused
        sequence["updated_at"] = iso_from_ms(self.now_ms())

    def create_job(self, kind: str, filter_: Json, snapshot: Callable[[Job], list[Json]]) -> Job:
        """A new query job; `snapshot(job)` gives its result rows as of now (unify_bulk.py
        knows the rows and filters; the state only keeps them)."""
        now = self.now_ms()
        job = Job(
            n=self._next_n(),
            id=self._runtime.uuid(),
            kind=kind,
            filter=filter_,
            created_at=now,
            expires_at=now + int(self.job_ttl * 1000),
            done_at=now + int(self.job_seconds * 1000),
            fails=self._job_outcomes.random() < self.job_failure_rate,
        )
        if not job.fails:
            job.rows = snapshot(job)
        self.jobs[job.id] = job
        self.refresh_job(job)  # a zero-second job is done at once
        return job

    def refresh_job(self, job: Job) -> None:
        """Settle the job once its time has come, and expire it once its results have."""
        now = self.now_ms()
        if job.status == "IN_PROGRESS" and now >= job.done_at:
            if job.fails:
                job.status, job.error_code = "FAILED", JOB_FAILED_CODE
            else:
                job.status = "FINISHED"
        if job.status in ("IN_PROGRESS", "FINISHED", "CANCELED") and now >= job.expires_at:
            job.status = "EXPIRED"
            job.rows = None

    def cancel_job(self, job: Job) -> None:
        job.status = "CANCELED"
        job.canceled_at = self.now_ms()
        job.rows = None

    # --- renderings ------------------------------------------------------------------------
    def render_enrollment(self, e: EnrollmentRecord) -> Json:
        seq = self._sequences_by_id[e.sequence_id]
        person = self._people_by_id[e.person_id]
        mailbox = self._mailboxes_by_id[e.mailbox_id]
        reply = self.reply_message(e)
        return {
            "id": e.id,
            "created_at": iso_from_ms(e.created_at),
            "updated_at": iso_from_ms(e.updated_at),
            "sequence": {"id": seq["id"], "name": seq["name"], "is_paused": seq["is_paused"]},
            "person": {k: person[k] for k in ("id", "email", "first_name", "last_name")}
            | {"linkedin_url": person["linkedin_url"]},
            "mailbox": {
                "id": mailbox["id"],
                "email": mailbox["email"],
                "display_name": mailbox["display_name"],
                "is_paused": False,
                "is_unauthorized": False,
            },
            "enrolled_by_play": self.play(e.play_id),
            "reply_email_message": reply and reply | {"received_at": _iso_or_none(e.ended_at)},
            "status": e.status,
            "is_blocked": False,
            "is_bounced": False,
            "is_canceled": e.is_canceled,
            "is_excluded": False,
            "is_opted_out": False,
            "is_paused": e.is_paused,
            "is_replied": e.is_replied,
            "started_at": _iso_or_none(e.started_at),
            "ended_at": _iso_or_none(e.ended_at),
        }

    def render_job(self, job: Job) -> Json:
        return {
            "job_id": job.id,
            "status": job.status,
            "total_rows": len(job.rows)
            if job.rows is not None and job.status == "FINISHED"
            else None,
            "error_code": job.error_code,
            "created_at": iso_from_ms(job.created_at),
            "expires_at": iso_from_ms(job.expires_at),
            "canceled_at": _iso_or_none(job.canceled_at),
        }

    def enrollment_facts(self, e: EnrollmentRecord) -> Json:
        """Flat view of an enrollment that bulk filters are evaluated against."""
        return {
            "id": e.id,
            "updated_at": e.updated_at,
            "started_at": e.started_at,
            "ended_at": e.ended_at,
            "sequence": e.sequence_id,
            "person": e.person_id,
            "company": self._people_by_id[e.person_id]["company"]["id"],
            "mailbox_id": e.mailbox_id,
            "mailbox_email": self._mailboxes_by_id[e.mailbox_id]["email"],
            "status": e.status,
            "enrolled_by_play": e.play_id,
            "is_blocked": False,
            "is_bounced": False,
            "is_canceled": e.is_canceled,
            "is_opted_out": False,
            "is_paused": e.is_paused,
            "is_replied": e.is_replied,
        }

    # --- internals -------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _next_n(self) -> int:
        self._n += 1
        return self._n

    def _touch(self, record: EnrollmentRecord, now: int) -> None:
        record.updated_at = now
        record.version += 1

    def _seed_enrollment(self, gen: DataGen, person_id: str, i: int) -> None:
        started = to_ms(gen.timestamp())
        finished = i % 3 != 0  # a third stay active, so filters and 409s have something to find
        record = EnrollmentRecord(
            n=self._next_n(),
            id=gen.uuid(),
            sequence_id=self.sequences[i % N_SEQUENCES]["id"],
            person_id=person_id,
            mailbox_id=self.mailboxes[i % N_MAILBOXES]["id"],
            play_id=self.plays[i % 2]["id"] if i % 4 else None,
            created_at=started,
            updated_at=started + (WEEK_MS if finished else 0),
            started_at=started,
            ended_at=started + WEEK_MS if finished else None,
            status="FINISHED" if finished else "IN_PROGRESS",
            is_replied=finished and i % 5 == 0,
        )
        self.enrollments[record.id] = record
        if record.active:
            self._active_by_person[person_id] = record.id


def step_id(enrollment_id: str, step_number: int) -> str:
    # Derived, not drawn from the RNG, so rendering steps never shifts the seeded id stream.
    return str(uuid.uuid5(STEP_NAMESPACE, f"{enrollment_id}/{step_number}"))


def _iso_or_none(ms: int | None) -> str | None:
    return None if ms is None else iso_from_ms(ms)
