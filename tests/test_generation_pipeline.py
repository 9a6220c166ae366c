"""The generation pipeline: provenance, overlay, check-generated, and a vendor release rehearsal."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema
from test_generated_models import CUSTOM_FORMATS, closed_schema

import api_reference
import generate
from sequence_clients.generated.unify import Client
from sequence_clients.generated.unify.api.sequence_enrollments import create_sequence_enrollment
from sequence_clients.generated.unify.models import Enrollment
from sequence_clients.generated.unify.types import Unset

ROOT = Path(__file__).resolve().parent.parent
# The vendor's documents beside the clone (../shared, as CI has it); elsewhere: this variable.
REFERENCE = Path(os.environ.get("SEQUENCE_CLIENTS_REFERENCE", ROOT.parent / "shared" / "reference"))
UNIFY_RELEASE_31 = REFERENCE / "unify" / "create-enrollment.openapi.yaml"


def test_every_vendor_operation_is_generated() -> None:
    for vendor, package in (("unify", "unify"), ("boast", "boast")):
        source = generate.load_document(generate.vendor_source(ROOT / "spec" / vendor))
        operation_ids = {
            op["operationId"]
            for item in source["paths"].values()
            for op in item.values()
            if isinstance(op, dict) and "operationId" in op
        }
        modules = {p.stem for p in (ROOT / "generated" / package / "api").glob("*/*.py")}
        assert operation_ids, f"{vendor}: no operations in the spec"
        assert operation_ids == modules - {"__init__"}, f"{vendor}: {operation_ids ^ modules}"


def test_every_generated_file_says_do_not_edit() -> None:
    files = [
        p for p in (ROOT / "generated").rglob("*") if p.is_file() and p.suffix in {".py", ".json"}
    ]
    assert files
    for path in files:
        assert "DO NOT EDIT" in path.read_text().splitlines()[0 if path.suffix == ".py" else 1], (
            path
        )


def test_hand_edit_of_generated_code_or_a_stale_api_doc_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", copy, ignore=shutil.ignore_patterns("__pycache__"))
    edited = copy / "unify" / "models" / "enrollment.py"
    edited.write_text(edited.read_text() + "\n# a quick local fix\n")
    stale = tmp_path / "api.md"
    stale.write_text((ROOT / "docs" / "api.md").read_text().replace("- Pages: yes", "- Pages: no"))

    exit_code = generate.main(["--check", "--generated-dir", str(copy), "--api-doc", str(stale)])

    assert exit_code == 1
    stderr = capsys.readouterr().err
    assert "changed: unify/models/enrollment.py" in stderr
    assert "stale: api.md" in stderr
    assert "Never edit generated/" in stderr


def spec_operations(vendor: str) -> list[tuple[str, str]]:
    """(operationId, METHOD) of every operation of the vendor's document as stored in spec/."""
    source = generate.load_document(generate.vendor_source(ROOT / "spec" / vendor))
    return [
        (op["operationId"], method.upper())
        for item in source["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


@pytest.mark.parametrize("vendor", generate.VENDORS)
def test_api_doc_lists_every_operation_of_the_spec(vendor: str) -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    section = doc.split(f"\n## {vendor}\n", 1)[1].split("\n## ", 1)[0]
    operations = spec_operations(vendor)
    assert operations
    headings = re.findall(r"^#### `(\w+)`\n\n`(\w+) ", section, re.M)
    assert sorted(headings) == sorted(operations)
    for operation_id, _ in operations:
        entry = section.split(f"#### `{operation_id}`", 1)[1].split("\n#### ", 1)[0]
        for field in ("- Parameters:", "- Returns:", "- Pages:", "- Errors:"):
            assert field in entry, (operation_id, field)


def test_api_doc_names_the_wrapper_method_or_the_generic_call() -> None:
    doc = (ROOT / "docs" / "api.md").read_text()
    unify = doc.split("\n## unify\n", 1)[1].split("\n## ", 1)[0]
    create = unify.split("#### `create_sequence_enrollment`", 1)[1].split("\n#### ", 1)[0]
    # UnifyClient.enroll reaches create_sequence_enrollment through a private helper.
    assert "- Wrapper: `client.enroll(" in create
    assert "409 `ConflictError`" in create
    entries = unify.split("\n#### ")[1:]
    generic = [e for e in entries if "- Wrapper:" not in e]
    assert generic and all("- Run it: `client." in e for e in generic)
    paged = [e for e in entries if "- Pages: yes" in e]
    assert paged and all("client.paginate(" in e for e in paged)


def test_generation_is_reproducible(tmp_path: Path) -> None:
    """A fresh run reproduces, byte for byte, what an earlier `make generate` committed."""
    builds = generate.build_all(tmp_path)
    assert [len(b.generator_warnings) for b in builds] == [0, 0]
    assert generate.tree_differences(tmp_path, ROOT / "generated") == []


def test_provenance_mismatch_refuses_to_generate(tmp_path: Path) -> None:
    for name in ("openapi.json", "openapi.source.yaml"):
        shutil.copy(ROOT / "spec" / "unify" / name, tmp_path / name)
    tampered = tmp_path / "openapi.json"
    tampered.write_bytes(
        tampered.read_bytes().replace(b"Unify Sequences API", b"Unify Sequences APl")
    )

    with pytest.raises(generate.PipelineError, match="sha256"):
        generate.verify_provenance(tampered)
    generate.verify_provenance(
        ROOT / "spec" / "unify" / "openapi.json"
    )  # the committed one is intact


def test_overlay_reports_actions_the_vendor_made_unnecessary() -> None:
    document = generate.load_document(UNIFY_RELEASE_31)
    unmatched = generate.apply_vendor_overlay(document, ROOT / "spec" / "unify")
    # The 3.1 release already omits enrolled_by_play; the tag fix still applies.
    assert len(unmatched) == 1 and "enrolled_by_play" in unmatched[0]
    assert document["paths"]["/enrollments"]["post"]["tags"] == ["Sequence Enrollments"]


def test_later_vendor_release_generates_cleanly(tmp_path: Path) -> None:
    document, _ = generate.prepare_document(ROOT / "spec" / "unify", source=UNIFY_RELEASE_31)
    spec_path = tmp_path / "unify-3.1.json"
    spec_path.write_text(json.dumps(document))

    warnings = generate.run_generator(
        spec_path, ROOT / "spec" / "unify" / "generator.yaml", tmp_path / "pkg"
    )

    assert warnings == []
    assert (
        tmp_path / "pkg" / "api" / "sequence_enrollments" / "create_sequence_enrollment.py"
    ).exists()


def _release_31_enrollment_schema() -> dict[str, object]:
    document, _ = generate.prepare_document(ROOT / "spec" / "unify", source=UNIFY_RELEASE_31)
    schema = document["components"]["schemas"]["CreateEnrollmentSuccessResponse"]
    return closed_schema(schema, document)  # type: ignore[no-any-return]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_schema(_release_31_enrollment_schema(), custom_formats=CUSTOM_FORMATS))
def test_later_release_response_parses_with_client_from_full_document(
    body: dict[str, object],
) -> None:
    assert "enrolled_by_play" not in body
    response = httpx.Response(201, json=body)

    parsed = create_sequence_enrollment._parse_response(
        client=Client(base_url="https://example.invalid"), response=response
    )

    assert isinstance(parsed, Enrollment)
    assert isinstance(parsed.enrolled_by_play, Unset)
    assert str(parsed.id) == body["id"]


def test_api_doc_errors_are_the_wrappers_typed_errors() -> None:
    from sequence_clients import errors

    statuses = api_reference.error_classes(ROOT / "wrapper" / "sequence_clients" / "errors.py")
    assert statuses
    for status, name in statuses.items():
        assert issubclass(getattr(errors, name), errors.APIStatusError), status
    assert api_reference.error_for("503", statuses) == "ServerError"
    assert api_reference.error_for("418", statuses) == "APIStatusError"


def test_without_a_baseline_generate_says_so_and_stops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "generated"
    args = ["--baseline-dir", str(tmp_path / "no-baseline"), "--generated-dir", str(out)]
    args += ["--changes-file", str(tmp_path / "CHANGES.md"), "--api-doc", str(tmp_path / "api.md")]

    assert generate.main([*args, "--only", "boast"]) == 1

    assert "no baseline" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "CHANGES.md").exists()
