"""The Boast fake over real loopback HTTP with plain httpx, contract check on (see conftest)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sequence_clients.sandbox import Sandbox
from sequence_clients.sandbox.boast_state import N_SEEDED_ENROLLMENTS, PAGE_SIZE, BoastState

MakeSandbox = Callable[..., Sandbox]
ZERO_UUID = "00000000-0000-4000-8000-000000000000"
REDIRECT = "https://app.example.com/oauth/callback"
JSON = {"content-type": "application/json"}
# The sandbox is plain HTTP, but every httpx client builds a TLS context (~20 ms, more than a
# request): build one and share it, to keep this file fast.
TLS = ssl.create_default_context()
CONNECTION_ERRORS = (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError)


def api_root(sb: Sandbox) -> str:
    """Where the fake serves Boast's /v1 API (api.boast.io/v1)."""
    return sb.base_url + "/boast/v1"


def api_client(sb: Sandbox, token: str | None = None, account: int = 0) -> httpx.Client:
    """A client rooted at one account; a fresh token unless one is given."""
    token = token or sb.boast.issue_token().access_token
    return httpx.Client(
        base_url=f"{api_root(sb)}/accounts/{sb.boast.account_ids[account]}",
        headers={"authorization": f"Bearer {token}"},
        verify=TLS,
    )


def plain_client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, verify=TLS)


def token_request(sb: Sandbox, **form: str) -> httpx.Response:
    credentials = {"client_id": sb.boast.client_id, "client_secret": sb.boast.client_secret}
    with plain_client(sb.boast_auth_base_url) as c:
        return c.post("/oauth/token", data=credentials | form)


def authorize(sb: Sandbox, **params: str) -> httpx.Response:
    query = {
        "client_id": sb.boast.client_id,
        "redirect_uri": REDIRECT,
        "scope": "read write",
        "response_type": "code",
    } | params
    with plain_client(sb.boast_auth_base_url) as c:
        return c.get("/oauth/authorize", params=query)


def codes(response: httpx.Response, status: int) -> list[tuple[str, str | None]]:
    """(code, source pointer or parameter) of each error, after checking the status."""
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert all(e["status"] == status for e in errors)
    return [(e["code"], next(iter(e.get("source", {}).values()), None)) for e in errors]


def enroll(api: httpx.Client, sb: Sandbox, contact: int, sequence: int = 0) -> httpx.Response:
    account_id = sb.boast.account_ids[0]
    body = {
        "contact_id": sb.boast.contacts[account_id][contact]["id"],
        "sequence_id": sb.boast.sequences[account_id][sequence]["id"],
    }
    return api.post("/sequence_enrollments", json=body)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with api_client(sandbox) as client:
        yield client


# --- OAuth -------------------------------------------------------------------------------
def test_full_oauth_dance_with_rotating_refresh_tokens(sandbox: Sandbox) -> None:
    redirect = authorize(sandbox, state="xyz")
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert str(location).startswith(REDIRECT + "?") and location.params["state"] == "xyz"
    code = location.params["code"]
    first = token_request(
        sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    tokens = first.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 7200
    assert tokens["scope"] == "read write" and isinstance(tokens["created_at"], int)
    with api_client(sandbox, tokens["access_token"]) as c:
        assert c.get("/sequences").status_code == 200
    # A code is single-use.
    reused = token_request(
        sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    refreshed = token_request(
        sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["access_token"] != tokens["access_token"]
    assert new["refresh_token"] != tokens["refresh_token"]
    again = token_request(sandbox, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert again.status_code == 200
    with api_client(sandbox, again.json()["access_token"]) as c:
        assert c.get("/sequences").status_code == 200
    assert sandbox.boast.refresh_count == 2
    assert sandbox.boast.token_log == [
        ("authorization_code", "issued"),
        ("authorization_code", "invalid_grant"),
        ("refresh_token", "issued"),
        ("refresh_token", "issued"),
    ]


def _refresh(sb: Sandbox, refresh_token: str) -> httpx.Response:
    return token_request(sb, grant_type="refresh_token", refresh_token=refresh_token)


def test_reused_refresh_token_revokes_the_whole_grant(sandbox: Sandbox) -> None:
    first = sandbox.boast.issue_token()
    other = sandbox.boast.issue_token()  # another authorization: untouched by the reuse
    second = _refresh(sandbox, first.refresh_token).json()
    third = _refresh(sandbox, second["refresh_token"]).json()
    # The refresh token spent two rotations ago comes back: a breach, says RFC 6819 §5.2.2.3.
    stale = _refresh(sandbox, first.refresh_token)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    # Every token of that grant is dead, the newest included.
    newest = _refresh(sandbox, third["refresh_token"])
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    for access in (second["access_token"], third["access_token"]):
        with api_client(sandbox, access) as c:
            refused = c.get("/sequences")
            assert codes(refused, 401) and "revoked" in refused.json()["errors"][0]["detail"]
    assert len(sandbox.boast.revoked_grants) == 1
    with api_client(sandbox, other.access_token) as c:
        assert c.get("/sequences").status_code == 200
    assert _refresh(sandbox, other.refresh_token).status_code == 200


def test_reuse_detection_can_be_turned_off(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(refresh_reuse_detection=False)
    first = sb.boast.issue_token()
    second = _refresh(sb, first.refresh_token).json()
    stale = _refresh(sb, first.refresh_token)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant"
    assert not sb.boast.revoked_grants
    assert _refresh(sb, second["refresh_token"]).status_code == 200


TOKEN_ERRORS = [
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"client_id": "someone-else"}, 401, "invalid_client"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ({"grant_type": ""}, 400, "invalid_request"),
    ({"grant_type": "authorization_code"}, 400, "invalid_request"),
    ({"grant_type": "authorization_code", "code": "made-up"}, 400, "invalid_grant"),
    ({"grant_type": "refresh_token"}, 400, "invalid_request"),
    ({"grant_type": "refresh_token", "refresh_token": "made-up"}, 400, "invalid_grant"),
]
# Only errors that leave no trustworthy redirect URI are answered directly (RFC 6749
# §4.1.2.1); the others redirect with error= (tests/sandbox/test_fidelity.py).
AUTHORIZE_ERRORS = [
    ({"client_id": "unknown"}, 401, "invalid_client"),
    ({"redirect_uri": ""}, 400, "invalid_request"),
]


def test_oauth_errors(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    # One sandbox for every case: starting and stopping one costs more than all the requests.
    sb = make_sandbox(clock=fake_clock)
    for form, status, error in TOKEN_ERRORS:
        response = token_request(sb, **({"grant_type": "refresh_token"} | form))
        assert response.status_code == status, form
        assert response.json()["error"] == error and response.json()["error_description"], form
    for params, status, error in AUTHORIZE_ERRORS:
        response = authorize(sb, **params)
        assert response.status_code == status and response.json()["error"] == error, params
    as_json = {"grant_type": "refresh_token", "client_id": sb.boast.client_id}
    with plain_client(sb.boast_auth_base_url) as c:
        response = c.post("/oauth/token", json=as_json)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        no_secret = c.post("/oauth/token", data=as_json | {"refresh_token": "x"})
        assert no_secret.status_code == 401 and no_secret.json()["error"] == "invalid_client"
    # A minted code must come back with the redirect_uri it was issued for, and burns anyway.
    code = sb.boast.mint_authorization_code(REDIRECT)
    elsewhere = token_request(
        sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "/x"
    )
    assert elsewhere.json()["error"] == "invalid_grant"
    retried = token_request(sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert retried.json()["error"] == "invalid_grant"
    # Codes expire after ten minutes.
    code = sb.boast.mint_authorization_code(REDIRECT)
    fake_clock.advance(601)
    late = token_request(sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert late.json()["error"] == "invalid_grant"
    assert sb.boast.refresh_count == 0


def test_expired_and_revoked_tokens_answer_401(make_sandbox: MakeSandbox, fake_clock: Any) -> None:
    sb = make_sandbox(clock=fake_clock, token_ttl=60)
    pair = sb.boast.issue_token()
    assert pair.expires_in == 60
    with api_client(sb, pair.access_token) as c:
        fake_clock.advance(59.9)
        assert c.get("/sequences").status_code == 200
        fake_clock.advance(0.1)
        expired = c.get("/sequences")
        assert codes(expired, 401) == [("unauthorized", None)]
        assert "expired" in expired.json()["errors"][0]["detail"]
        assert expired.headers["www-authenticate"].startswith("Bearer ")
    # The refresh token outlives the access token.
    refreshed = token_request(sb, grant_type="refresh_token", refresh_token=pair.refresh_token)
    new = refreshed.json()
    with api_client(sb, new["access_token"]) as c:
        assert c.get("/sequences").status_code == 200
        sb.boast.revoke(new["access_token"])
        revoked = c.get("/sequences")
        assert codes(revoked, 401) and "revoked" in revoked.json()["errors"][0]["detail"]
    sb.boast.revoke(new["refresh_token"])
    refused = token_request(sb, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


OPERATIONS = [
    ("GET", "/accounts"),
    ("GET", "/accounts/{account}"),
    ("GET", "/accounts/{account}/contacts"),
    ("POST", "/accounts/{account}/contacts"),
    ("GET", "/accounts/{account}/sequences"),
    ("GET", "/accounts/{account}/sequence_enrollments"),
    ("POST", "/accounts/{account}/sequence_enrollments"),
    ("GET", f"/accounts/{{account}}/sequence_enrollments/{ZERO_UUID}"),
    ("DELETE", f"/accounts/{{account}}/sequence_enrollments/{ZERO_UUID}"),
]


def test_every_operation_answers_401_without_a_valid_token(sandbox: Sandbox) -> None:
    account = sandbox.boast.account_ids[0]
    with plain_client(api_root(sandbox)) as c:
        for authorization in (None, "Bearer made-up", "Basic abc", "Bearer"):
            headers = {"authorization": authorization} if authorization else {}
            for method, path in OPERATIONS:
                response = c.request(method, path.format(account=account), json={}, headers=headers)
                assert codes(response, 401) == [("unauthorized", None)], (method, path)
        # Unknown routes answer in Boast's error shape too, and a trailing slash is unknown.
        headers = {"authorization": f"Bearer {sandbox.boast.issue_token().access_token}"}
        assert codes(c.get("/accounts/", headers=headers), 404) == [("not_found", None)]
        assert codes(c.put("/accounts", headers=headers), 405) == [("method_not_allowed", None)]
    assert sandbox.boast.total_created == sandbox.boast.contacts_created == 0
    assert len(OPERATIONS) == 9  # every /v1 operation of the spec


# --- accounts, contacts, sequences ---------------------------------------------------------
def test_accounts_contacts_and_sequences(sandbox: Sandbox) -> None:
    state = sandbox.boast
    with plain_client(api_root(sandbox)) as c:
        c.headers["authorization"] = f"Bearer {state.issue_token().access_token}"
        listed = c.get("/accounts").json()
        assert listed == {"data": state.accounts} and len(listed["data"]) == 2
        assert c.get(f"/accounts/{state.account_ids[1]}").json()["data"] == state.accounts[1]
        assert codes(c.get(f"/accounts/{ZERO_UUID}"), 404) == [("not_found", None)]
        assert codes(c.get("/accounts/nope"), 400) == [("bad_request", "account_id")]
        assert codes(c.get(f"/accounts/{ZERO_UUID}/contacts"), 404) == [("not_found", None)]

        big = f"/accounts/{state.account_ids[0]}"
        last = c.get(big + "/contacts", params={"page": 120}).json()
        assert last["meta"]["pagination"]["count"] == 3000 and len(last["data"]) == PAGE_SIZE
        assert all("@" in contact["email"] for contact in last["data"])
        sequences = c.get(big + "/sequences").json()
        assert sequences["data"] == state.sequences[state.account_ids[0]]
        statuses = [s["status"] for s in sequences["data"]]
        assert statuses.count("active") >= 5 and set(statuses) - {"active"}
        assert sequences["meta"]["pagination"]["count"] == len(statuses)

    # A page walk over the small account collects every contact exactly once.
    expected = [contact["id"] for contact in state.contacts[state.account_ids[1]]]
    seen: list[str] = []
    with api_client(sandbox, account=1) as c:
        page = 1
        while True:
            body = c.get("/contacts", params={"page": page}).json()
            pagination = body["meta"]["pagination"]
            assert pagination == {
                "count": len(expected),
                "page": page,
                "items": PAGE_SIZE,
                "pages": -(-len(expected) // PAGE_SIZE),
            }
            if not body["data"]:  # a page past the end is empty, not an error
                break
            seen += [contact["id"] for contact in body["data"]]
            page += 1
        assert page == pagination["pages"] + 1 and seen == expected
        assert c.get("/contacts").json()["data"][0]["id"] == expected[0]  # page defaults to 1
        for bad in ("0", "-1", "two", "1.5"):
            assert codes(c.get("/contacts", params={"page": bad}), 400) == [("bad_request", "page")]


CONTACT_ERRORS: list[tuple[Any, int, list[tuple[str, str]]]] = [
    ({"first_name": "No Way To Reach"}, 422, [("blank", "/email")]),
    (
        {"email": "", "mobile_phone": ""},
        422,
        [("blank", "/email"), ("invalid", "/email"), ("invalid", "/mobile_phone")],
    ),
    ({"email": "not-an-email"}, 422, [("invalid", "/email")]),
    ({"mobile_phone": "555-1234"}, 422, [("invalid", "/mobile_phone")]),
    (
        {"email": "a@example.com", "country_code": "USA", "source": "csv"},
        422,
        [("invalid", "/country_code"), ("invalid", "/source")],
    ),
    ({"email": 42}, 422, [("invalid", "/email")]),
    ({"email": "a@example.com", "first_name": None}, 422, [("invalid", "/first_name")]),
    ([{"email": "a@example.com"}], 400, [("bad_request", "")]),
]


def test_create_contact_and_its_validation(api: httpx.Client, sandbox: Sandbox) -> None:
    for body, status, expected in CONTACT_ERRORS:
        assert codes(api.post("/contacts", json=body), status) == expected, body
    assert codes(api.post("/contacts", content=b"{nope", headers=JSON), 400)
    assert codes(api.post("/contacts", data={"email": "a@example.com"}), 400)  # form-encoded
    assert sandbox.boast.contacts_created == 0

    body = {"email": "george.bluth@example.com", "first_name": "George", "country_code": "us"}
    created = api.post("/contacts", json=body)
    assert created.status_code == 201, created.text
    contact = created.json()["data"]
    assert contact["email"] == body["email"] and contact["country_code"] == "US"
    assert contact["source"] == "api" and contact["mobile_phone"] is None
    assert contact["links"]["detail"].endswith(contact["id"])
    phone_only = api.post(
        "/contacts", json={"mobile_phone": "+15555555555", "source": "integration"}
    )
    assert phone_only.status_code == 201 and phone_only.json()["data"]["source"] == "integration"
    last_page = api.get("/contacts", params={"page": 121}).json()["data"]
    assert [c["id"] for c in last_page] == [contact["id"], phone_only.json()["data"]["id"]]
    assert sandbox.boast.contacts_created == 2


# --- sequence enrollments --------------------------------------------------------------------
DUPLICATE = {
    "errors": [
        {
            "detail": "Contact is already enrolled in this sequence",
            "code": "already_enrolled",
            "status": 422,
            "source": {"pointer": "/contact_id"},
        }
    ]
}


def test_enroll_duplicate_remove_and_re_enroll(api: httpx.Client, sandbox: Sandbox) -> None:
    state = sandbox.boast
    created = enroll(api, sandbox, contact=0)
    assert created.status_code == 201, created.text
    enrollment = created.json()["data"]
    assert enrollment["status"] == "active" and enrollment["response_id"] is None
    assert api.get(f"/sequence_enrollments/{enrollment['id']}").json()["data"] == enrollment
    duplicate = enroll(api, sandbox, contact=0)
    assert duplicate.status_code == 422 and duplicate.json() == DUPLICATE
    # The same contact may be active in another sequence at the same time.
    assert enroll(api, sandbox, contact=0, sequence=1).status_code == 201
    assert state.active_enrollment_count(contact_id=enrollment["contact_id"]) == 2

    removed = api.delete(f"/sequence_enrollments/{enrollment['id']}")
    assert removed.status_code == 200
    assert removed.json()["data"] == enrollment | {
        "status": "removed",
        "updated_at": removed.json()["data"]["updated_at"],
    }
    assert (
        api.get(f"/sequence_enrollments/{enrollment['id']}").json()["data"]["status"] == "removed"
    )
    assert codes(api.delete(f"/sequence_enrollments/{enrollment['id']}"), 422) == [
        ("not_active", None)
    ]
    again = enroll(api, sandbox, contact=0)
    assert again.status_code == 201 and again.json()["data"]["id"] != enrollment["id"]
    assert state.total_created == 3
    assert state.active_enrollment_count(sequence_id=enrollment["sequence_id"]) >= 1
    assert state.duplicate_active_enrollments() == []


def test_concurrent_duplicates_create_exactly_one(sandbox: Sandbox) -> None:
    state = sandbox.boast
    account = state.account_ids[0]
    body = {
        "contact_id": state.contacts[account][9]["id"],
        "sequence_id": state.sequences[account][2]["id"],
    }

    async def race() -> list[int]:
        async with httpx.AsyncClient(
            base_url=f"{api_root(sandbox)}/accounts/{account}",
            headers={"authorization": f"Bearer {state.issue_token().access_token}"},
            verify=TLS,
        ) as c:
            answers = await asyncio.gather(
                *(c.post("/sequence_enrollments", json=body) for _ in range(12))
            )
        return sorted(a.status_code for a in answers)

    assert asyncio.run(race()) == [201] + [422] * 11
    assert state.total_created == 1 and state.duplicate_active_enrollments() == []


def test_enroll_errors(api: httpx.Client, sandbox: Sandbox) -> None:
    state = sandbox.boast
    account, other = state.account_ids
    contact = state.contacts[account][0]["id"]
    active = state.active_sequences(account)[0]["id"]
    paused = next(s["id"] for s in state.sequences[account] if s["status"] != "active")

    def post(**body: Any) -> httpx.Response:
        return api.post("/sequence_enrollments", json=body)

    assert codes(post(contact_id=ZERO_UUID, sequence_id=active), 404) == [
        ("not_found", "/contact_id")
    ]
    assert codes(post(contact_id=contact, sequence_id=ZERO_UUID), 404) == [
        ("not_found", "/sequence_id")
    ]
    foreign_contact = state.contacts[other][0]["id"]
    assert codes(post(contact_id=foreign_contact, sequence_id=active), 404)
    assert codes(post(contact_id=contact, sequence_id=paused), 422) == [
        ("sequence_not_active", "/sequence_id")
    ]
    assert codes(post(), 422) == [("blank", "/contact_id"), ("blank", "/sequence_id")]
    assert codes(post(contact_id="nope", sequence_id=active), 400) == [
        ("bad_request", "/contact_id")
    ]
    assert codes(api.get("/sequence_enrollments/nope"), 400) == [("bad_request", "enrollment_id")]
    assert codes(api.get(f"/sequence_enrollments/{ZERO_UUID}"), 404) == [("not_found", None)]
    assert codes(api.delete(f"/sequence_enrollments/{ZERO_UUID}"), 404)
    assert codes(api.post("/sequence_enrollments", content=b"", headers=JSON), 400)
    assert state.total_created == 0
    # An enrollment is only visible through its own account.
    enrollment_id = enroll(api, sandbox, contact=1).json()["data"]["id"]
    with api_client(sandbox, account=1) as other_account:
        assert codes(other_account.get(f"/sequence_enrollments/{enrollment_id}"), 404)


def test_list_enrollments_walk_and_filters(api: httpx.Client, sandbox: Sandbox) -> None:
    state = sandbox.boast
    account = state.account_ids[0]
    created = [enroll(api, sandbox, contact=i, sequence=i % 3).json()["data"] for i in range(20)]

    def walk(**params: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            body = api.get("/sequence_enrollments", params={"page": page} | params).json()
            rows += body["data"]
            if page >= body["meta"]["pagination"]["pages"]:
                return rows
            page += 1

    everything = walk()
    assert len(everything) == len({e["id"] for e in everything}) == N_SEEDED_ENROLLMENTS + 20
    # Seeded history belongs to the last contacts only: the front ones are free to enroll.
    history = {e["contact_id"] for e in everything[:N_SEEDED_ENROLLMENTS]}
    assert history == {c["id"] for c in state.contacts[account][-N_SEEDED_ENROLLMENTS:]}
    assert everything[-20:] == created
    statuses = {e["status"] for e in everything}
    assert {"active", "completed", "removed"} <= statuses
    completed = walk(status="completed")
    assert completed and all(e["status"] == "completed" and e["response_id"] for e in completed)
    sequence_id = state.sequences[account][1]["id"]
    by_sequence = walk(sequence_id=sequence_id)
    assert {e["sequence_id"] for e in by_sequence} == {sequence_id}
    assert {e["id"] for e in created if e["sequence_id"] == sequence_id} <= {
        e["id"] for e in by_sequence
    }
    by_contact = walk(contact_id=created[4]["contact_id"], status="active")
    assert by_contact == [created[4]]
    assert walk(contact_id=ZERO_UUID) == []
    bad = api.get("/sequence_enrollments", params={"sequence_id": "x"})
    assert codes(bad, 400) == [("bad_request", "sequence_id")]
    assert state.active_enrollment_count() == len(walk(status="active"))


# --- knobs: faults, rate limits, determinism ---------------------------------------------------
def test_faults_and_rate_limits_hit_the_api_but_not_oauth(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults={"server_error": 1.0}, rate_limit="1/10s")
    for _ in range(3):
        code = sb.boast.mint_authorization_code(REDIRECT)
        granted = token_request(
            sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT
        )
        assert granted.status_code == 200
    with api_client(sb) as c:
        failed = c.get("/contacts")
        assert failed.status_code in (500, 502, 503)
        assert codes(failed, failed.status_code) == [("internal_server_error", None)]
        limited = c.get("/contacts")
        assert codes(limited, 429) == [("rate_limited", None)]
        assert int(limited.headers["retry-after"]) >= 1
    assert sb.stats.boast.requests == 2 and sb.stats.boast.rate_limited == 1


def test_reset_after_commit_then_retry_sees_already_enrolled(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(faults={"reset_after_commit": 1.0})
    with api_client(sb) as c:
        with pytest.raises(CONNECTION_ERRORS):
            enroll(c, sb, contact=2)
        assert sb.boast.total_created == 1
        sb.set_faults(type(sb.config.faults)())
        assert enroll(c, sb, contact=2).json() == DUPLICATE
    assert sb.boast.duplicate_active_enrollments() == []


def script(sb: Sandbox) -> list[bytes]:
    """A fixed request sequence through OAuth and every operation; the raw response bodies."""
    code = httpx.URL(authorize(sb).headers["location"]).params["code"]
    tokens = token_request(sb, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    seen = [tokens.content]
    with api_client(sb, tokens.json()["access_token"]) as c:
        responses = [
            c.get(""),
            c.get("/contacts", params={"page": 7}),
            c.post("/contacts", json={"email": "new@example.com"}),
            c.get("/sequences"),
            enroll(c, sb, contact=3),
            c.get("/sequence_enrollments", params={"page": 3}),
        ]
        responses.append(c.delete(f"/sequence_enrollments/{responses[4].json()['data']['id']}"))
    return seen + [r.content for r in responses]


def test_same_seed_gives_byte_identical_responses(make_sandbox: MakeSandbox) -> None:
    def clock() -> float:
        return 1_800_000_000.0

    first = script(make_sandbox(seed=5, clock=clock))
    assert first == script(make_sandbox(seed=5, clock=clock))
    # Another seed, other data and tokens (checked without a third server, for speed).
    five, six = BoastState(seed=5), BoastState(seed=6)
    for attribute in ("accounts", "sequences", "contacts", "client_id", "client_secret"):
        assert getattr(five, attribute) != getattr(six, attribute), attribute
    assert five.issue_token() != six.issue_token()
