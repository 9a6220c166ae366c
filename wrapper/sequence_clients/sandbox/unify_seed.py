"""Seeded Unify data: users, mailboxes, sequences with steps, companies and people.

Shapes are the spec's Sequence, SequenceStep, ...; people carry what EnrollmentPerson and
SequencePerson need. Everything is drawn from the given DataGen, in a fixed order.
"""

from __future__ import annotations

from typing import Any

from .data import DataGen, iso

Json = dict[str, Any]


def user(gen: DataGen) -> Json:
    first, last = gen.first_name(), gen.last_name()
    return {
        "id": gen.uuid(),
        "email": f"{first}.{last}@sandbox-seller.example.com".lower(),
        "first_name": first,
        "last_name": last,
    }


def mailbox(gen: DataGen, user: Json, i: int) -> Json:
    local = f"{user['first_name']}.{user['last_name']}{i}".lower()
    return {
        "id": gen.uuid(),
        "email": f"{local}@sandbox-mail.example.com",
        "display_name": f"{user['first_name']} {user['last_name']}",
        "user": user,
    }


# Re-enrollment rulesets of sequences 1, 2, 3, ... (the fake honours them). Sequence 2 is the
# first without active seeded enrollments, the one tests and benchmarks enroll into and cycle
# people through, so it allows re-enrollment; 3 blocks it for a day, 1, 4 and 5 refuse it.
REENROLLMENT_RULES: tuple[Json, ...] = tuple(
    {
        "allow_same_sequence_reenrollment": allow,
        "block_reenrollment_value": value,
        "block_reenrollment_units": units,
    }
    for allow, value, units in (
        (False, None, None),
        (True, None, None),
        (True, 1, "DAY"),
        (False, None, None),
        (False, None, None),
        (True, 2, "WEEK"),
    )
)


def sequence(gen: DataGen, owner: Json, n: int) -> Json:
    created = gen.timestamp()
    created_iso = iso(created)
    weekday = [{"start_time": {"hour": 9, "minute": 0}, "end_time": {"hour": 17, "minute": 0}}]
    return {
        "id": gen.uuid(),
        "created_at": created_iso,
        "updated_at": created_iso,
        "owner": owner,
        "name": gen.sequence_name(n),
        "is_paused": False,
        "send_schedule": {
            "id": gen.uuid(),
            "created_at": created_iso,
            "updated_at": created_iso,
            "is_default": True,
            "name": "Business hours",
            "rules": {
                "time_zone": "America/New_York",
                "send_days": {str(d): weekday if d <= 5 else None for d in range(1, 8)},
                "skip_us_holidays": True,
                "excluded_dates": [],
            },
        },
        "sequence_ruleset": {
            "id": gen.uuid(),
            "created_at": created_iso,
            "updated_at": created_iso,
            "name": "Default ruleset",
            "is_default": True,
            "automatic_enrollment_task_assignment": "ASSIGN_TO_MAILBOX_OWNER",
            "automatic_enrollment_task_assignment_user_id": None,
            "manual_enrollment_task_assignment": "ASSIGN_TO_ENROLLER",
            "manual_enrollment_task_assignment_user_id": None,
            "opt_out_message": "Reply STOP to opt out.",
            **REENROLLMENT_RULES[(n - 1) % len(REENROLLMENT_RULES)],
        },
    }


def steps(gen: DataGen, sequence_id: str) -> list[Json]:
    created = iso(gen.timestamp())
    kinds = ["AUTOMATIC_EMAIL", "AUTOMATIC_EMAIL", "PHONE_CALL", "MANUAL_EMAIL", "ACTION_ITEM"]
    steps: list[Json] = []
    for i, kind in enumerate(kinds[: 3 + gen.rng.randrange(3)]):
        parent = steps[-1]["id"] if steps else None
        timer = {"type": "TIMER", "duration_value": 2 + i, "duration_unit": "days"}
        step: Json = {
            "id": gen.uuid(),
            "key": f"step-{i + 1}",
            "created_at": created,
            "updated_at": created,
            "sequence_id": sequence_id,
            "version_number": 1,
            "dependencies": [{"parent_step_id": parent, "condition": timer if parent else None}],
            "type": kind,
        }
        task: Json = {
            "task_priority": "MEDIUM",
            "auto_skip_on_due_date": False,
            "relative_due_at": {"num_units_of_time": 1, "unit_of_time": "DAY"},
        }
        email: Json = {
            "is_root_message": i == 0,
            "subject": f"Quick question {{{{first_name}}}} ({i + 1})" if i == 0 else None,
            "fallback_subject": None,
            "body": f"<p>Hello {{{{first_name}}}}, message {i + 1}.</p>",
            "cc_recipients": [],
            "bcc_recipients": [],
        }
        if kind == "AUTOMATIC_EMAIL":
            step["config"] = email
        elif kind == "MANUAL_EMAIL":
            step["config"] = email | task
        else:
            step["config"] = task | {"note_content": "Call and reference the last email."}
        steps.append(step)
    return steps


def company(gen: DataGen) -> Json:
    name, domain = gen.company()
    return {
        "id": gen.uuid(),
        "name": name,
        "domain": domain,
        "description": f"{name} builds things.",
        "linkedin_url": None,
    }


def person(gen: DataGen, company: Json, n: int) -> Json:
    first, last = gen.first_name(), gen.last_name()
    return {
        "id": gen.uuid(),
        "email": gen.email(first, last, company["domain"], n),
        "first_name": first,
        "last_name": last,
        "linkedin_url": f"https://www.linkedin.com/in/{first}-{last}-{n}".lower(),
        "company": company,
    }
