"""Seeded Boast data: accounts, sequences and contacts, in the spec's Account/Sequence/Contact shapes.

Everything is drawn from the given DataGen in a fixed order, so one seed gives one data set.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .data import DataGen, iso

Json = dict[str, Any]

# Where contact links point; the documentation shows a per-customer subdomain (demo.boast.io).
LINK_BASE = "https://sandbox.boast.io/contacts/"
JOB_TITLES = ("President", "VP Sales", "Office Manager", "Founder", "Head of Growth", None)
TIME_ZONES = (
    "Eastern Time (US & Canada)",
    "Central Time (US & Canada)",
    "Pacific Time (US & Canada)",
    "London",
    "Berlin",
)
COUNTRIES = ("US", "US", "US", "CA", "GB", "DE")
# Seeded contacts come from anywhere; created ones from `api` unless the request says otherwise.
SEED_SOURCES = ("api", "integration", "response")
# The string fields a create-contact request may set, in the order the spec lists them.
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "mobile_phone",
    "organization",
    "job_title",
    "time_zone",
    "country_code",
)
# How long after enrollment a seeded finished enrollment was last updated.
WEEK = timedelta(days=7)


def account(gen: DataGen) -> Json:
    name, _ = gen.company()
    created = gen.timestamp()
    return {
        "id": gen.uuid(),
        "name": name,
        "created_at": iso(created),
        "updated_at": iso(created),
    }


def sequence(gen: DataGen, n: int, status: str) -> Json:
    created = iso(gen.timestamp())
    return {
        "id": gen.uuid(),
        "collection_form_id": gen.uuid() if n % 2 else None,
        "enrollment_form_id": gen.uuid(),
        "name": gen.sequence_name(n),
        "status": status,
        "created_at": created,
        "updated_at": created,
    }


def contact(gen: DataGen, n: int) -> Json:
    first, last = gen.first_name(), gen.last_name()
    organization, domain = gen.company()
    created = iso(gen.timestamp())
    contact_id = gen.uuid()
    # Every contact has an email (the benchmarks enroll by email); some also have a phone.
    phone = f"+1555{gen.rng.randrange(10**7):07d}" if n % 3 == 0 else None
    return {
        "id": contact_id,
        "first_name": first,
        "last_name": last,
        "email": gen.email(first, last, domain, n),
        "mobile_phone": phone,
        "organization": organization,
        # Picked by position rather than drawn: 3000 contacts are built for every sandbox, and
        # fewer RNG draws keep that quick.
        "job_title": JOB_TITLES[n % len(JOB_TITLES)],
        "time_zone": TIME_ZONES[n % len(TIME_ZONES)],
        "country_code": COUNTRIES[n % len(COUNTRIES)],
        "location_id": gen.uuid() if n % 4 == 0 else None,
        "staff_id": gen.uuid() if n % 5 == 0 else None,
        "source": SEED_SOURCES[n % len(SEED_SOURCES)],
        "created_at": created,
        "updated_at": created,
        "links": links(contact_id),
    }


def links(contact_id: str) -> Json:
    return {"detail": LINK_BASE + contact_id, "edit": f"{LINK_BASE}{contact_id}/edit"}
