"""The contract check itself can fail: a fake answering off-spec is reported."""

from __future__ import annotations

import json

from openapi_check import ContractChecker

from sequence_clients.sandbox import Exchange

ENROLLMENT = "/sequences/v1/enrollments/0b9c5a1e-6f0e-4d47-9b51-3f0c2f4f5a10"
JSON = [(b"content-type", b"application/json")]


def exchange(status: int, body: object) -> Exchange:
    return Exchange(
        vendor="unify",
        method="GET",
        path=ENROLLMENT,
        query_string=b"",
        request_headers=[(b"x-api-key", b"k")],
        request_body=b"",
        status=status,
        response_headers=JSON,
        response_body=json.dumps(body).encode(),
        fault=None,
    )


def test_an_off_spec_answer_is_a_violation() -> None:
    checker = ContractChecker()
    checker(exchange(200, {"not_an_enrollment": True}))
    assert checker.checked == 1
    assert len(checker.violations) == 1 and "response breaks spec" in checker.violations[0]


def test_an_unknown_route_must_answer_404() -> None:
    checker = ContractChecker()
    checker(Exchange(**{**exchange(200, {}).__dict__, "path": "/sequences/v1/nowhere"}))
    assert checker.violations == [
        "unify GET /sequences/v1/nowhere -> 200: path/method not in the spec"
    ]
