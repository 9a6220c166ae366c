"""The hand-written Boast spec against Boast's own documentation.

Boast publishes no OpenAPI document, so spec/boast/openapi.yaml is transcribed from its pages.
These tests keep the transcription honest: every JSON example in the pages is in the spec,
and every example in the spec validates against the schema it illustrates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "spec" / "boast" / "openapi.yaml").read_text())
DOCS = ROOT.parent / "shared" / "reference" / "boast"
JSON_BLOCK = re.compile(r"```json\n(.*?)```", re.DOTALL)
# interacting.md illustrates the conventions with placeholder objects ({first_name, last_name})
# that belong to no endpoint; its error and pagination examples are checked below.
GENERIC_PAGE = "interacting.md"


def spec_examples() -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example in the spec."""
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            bodies = [("request", operation.get("requestBody", {}))]
            bodies += [(status, response) for status, response in operation["responses"].items()]
            for label, body in bodies:
                body = _resolve(body)
                for media in body.get("content", {}).values():
                    where = f"{method.upper()} {path} {label}"
                    if "example" in media:
                        yield where, media["schema"], media["example"]
                    for name, example in media.get("examples", {}).items():
                        yield f"{where} ({name})", media["schema"], example["value"]
    for name, response in SPEC["components"]["responses"].items():
        for media in response.get("content", {}).values():
            if "example" in media:
                yield f"responses/{name}", media["schema"], media["example"]
    for name, schema in SPEC["components"]["schemas"].items():
        if "example" in schema:
            yield f"schemas/{name}", schema, schema["example"]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in node:
        return node
    found: Any = SPEC
    for part in node["$ref"].removeprefix("#/").split("/"):
        found = found[part]
    return dict(found)


EXAMPLES = list(spec_examples())


def test_spec_has_an_example_for_every_documented_endpoint() -> None:
    assert len(EXAMPLES) >= 14


@pytest.mark.parametrize(
    ("schema", "example"), [e[1:] for e in EXAMPLES], ids=[e[0] for e in EXAMPLES]
)
def test_example_validates_against_its_schema(schema: dict[str, Any], example: Any) -> None:
    # The components ride along so that "#/components/..." references resolve from the root.
    validator = Draft202012Validator(
        {**schema, "components": SPEC["components"]}, format_checker=FormatChecker()
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
    assert errors == []


def test_schema_rejects_what_the_docs_rule_out() -> None:
    """The example test is only worth something if the schemas can say no."""
    enrollment = {"$ref": "#/components/schemas/SequenceEnrollmentResponse"}
    validator = Draft202012Validator(
        {**enrollment, "components": SPEC["components"]}, format_checker=FormatChecker()
    )
    assert not validator.is_valid({"data": {"id": "09f1bd66-84fe-454f-ac12-4dc323f656aa"}})
    assert not validator.is_valid({"data": []})


def _doc_examples() -> Iterator[tuple[str, Any]]:
    for page in sorted(DOCS.glob("*.md")):
        if page.name == GENERIC_PAGE:
            continue
        for n, block in enumerate(JSON_BLOCK.findall(page.read_text()), start=1):
            yield f"{page.name}#{n}", json.loads(block)


DOC_EXAMPLES = list(_doc_examples())


def test_docs_are_where_the_tests_expect() -> None:
    assert len(DOC_EXAMPLES) >= 10, f"expected Boast's API pages in {DOCS}"


@pytest.mark.parametrize("example", [e[1] for e in DOC_EXAMPLES], ids=[e[0] for e in DOC_EXAMPLES])
def test_every_documented_example_is_in_the_spec(example: Any) -> None:
    assert any(spec_example == example for _, _, spec_example in EXAMPLES)


def test_conventions_page_examples_are_in_the_spec() -> None:
    blocks = [json.loads(b) for b in JSON_BLOCK.findall((DOCS / GENERIC_PAGE).read_text())]
    error = next(b for b in blocks if "errors" in b)
    pagination = next(b["meta"]["pagination"] for b in blocks if "meta" in b)
    in_spec = [example for _, _, example in EXAMPLES]
    assert error in in_spec
    assert pagination in in_spec
