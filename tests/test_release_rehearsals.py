"""Release rehearsals: a vendor release is made from the committed spec, and the maintainer's view
(the change report of `make generate`, and whether it stops) is checked together with what a
deployed old client (the committed generated code) does with that release's responses.

Every rehearsal starts from spec/unify/openapi.json as committed and changes one thing. Targets are
found in the spec (the enum of an enrollment's status, an operation the wrapper calls), never
counted.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema
from test_generated_models import CUSTOM_FORMATS, closed_schema

import fetch_specs
import generate
import spec_report
from sequence_clients.generated.unify import Client
from sequence_clients.generated.unify.api.sequence_enrollments import get_sequence_enrollment
from sequence_clients.generated.unify.models import SequenceEnrollmentStatus

ROOT = Path(__file__).resolve().parent.parent
UNIFY_DIR = ROOT / "spec" / "unify"
BOAST_DIR = ROOT / "spec" / "boast"
# The vendor's documents beside the clone (../shared, as CI has it); elsewhere: this variable.
REFERENCE = Path(os.environ.get("SEQUENCE_CLIENTS_REFERENCE", ROOT.parent / "shared" / "reference"))
EXCERPT_31 = REFERENCE / "unify" / "create-enrollment.openapi.yaml"
WRAPPER = ROOT / "wrapper" / "sequence_clients"
Document = dict[str, Any]


def vendor_document(vendor_dir: Path = UNIFY_DIR) -> Document:
    return generate.load_document(generate.vendor_source(vendor_dir))


def committed(vendor: str = "unify") -> Document:
    return generate.built_spec(ROOT / "generated", vendor)


def release(
    tmp_path: Path, change: Callable[[Document], object], vendor_dir: Path = UNIFY_DIR
) -> Path:
    """The committed vendor document with one change, written where generate.py can read it."""
    document = copy.deepcopy(vendor_document(vendor_dir))
    change(document)
    path = tmp_path / f"{vendor_dir.name}-release.json"
    path.write_text(json.dumps(document))
    return path


def report_for(source: Path, vendor_dir: Path = UNIFY_DIR) -> list[spec_report.Change]:
    new, _ = generate.prepare_document(vendor_dir, source=source)
    return spec_report.spec_changes(committed(vendor_dir.name), new)


def only(changes: list[spec_report.Change], kind: str) -> spec_report.Change:
    matching = [c for c in changes if c.kind == kind]
    assert len(matching) == 1, [c.line() for c in changes]
    return matching[0]


def enrollment_body(document: Document, **override: Any) -> dict[str, Any]:
    """A 200 body of get_sequence_enrollment drawn from `document`, with fields overridden."""
    schema = closed_schema({"$ref": "#/components/schemas/Enrollment"}, document)
    drawn: dict[str, Any] = {}

    @settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(from_schema(schema, custom_formats=CUSTOM_FORMATS))
    def draw(value: dict[str, Any]) -> None:
        drawn.update(value)

    draw()
    return {"data": {**drawn, **override}} if _wrapped(document) else {**drawn, **override}


def _wrapped(document: Document) -> bool:
    response = document["components"]["schemas"].get("GetEnrollmentSuccessResponse", {})
    return "data" in response.get("properties", {})


def old_client_reads(body: dict[str, Any]) -> Any:
    return get_sequence_enrollment._parse_response(
        client=Client(base_url="https://example.invalid"), response=httpx.Response(200, json=body)
    )


def status_enum(document: Document) -> str:
    return str(
        document["components"]["schemas"]["Enrollment"]["properties"]["status"]["$ref"]
    ).rsplit("/", 1)[-1]


# --------------------------------------------------------------------------- the rehearsals


def test_new_enum_value_is_reported_and_old_clients_keep_it(tmp_path: Path) -> None:
    enum = status_enum(vendor_document())
    source = release(tmp_path, lambda d: d["components"]["schemas"][enum]["enum"].append("PAUSED"))

    changes = report_for(source)

    added = only(changes, "enum value added")
    assert (added.where, added.detail) == (enum, "'PAUSED'")
    assert (added.deployed, added.code) == (spec_report.OK, spec_report.REVIEW)
    assert not any(c.breaking for c in changes)  # make generate goes ahead
    new, _ = generate.prepare_document(UNIFY_DIR, source=source)
    parsed = old_client_reads(enrollment_body(new, status="PAUSED"))
    assert parsed.status == "PAUSED" and not isinstance(parsed.status, SequenceEnrollmentStatus)


def test_new_optional_field_is_reported_and_old_clients_keep_it(tmp_path: Path) -> None:
    field = {"type": "string", "format": "date-time", "nullable": True}
    source = release(
        tmp_path,
        lambda d: d["components"]["schemas"]["Enrollment"]["properties"].update(paused_until=field),
    )

    changes = report_for(source)

    added = only(changes, "optional property added")
    assert added.where == "Enrollment.paused_until"
    assert not any(c.breaking for c in changes)
    new, _ = generate.prepare_document(UNIFY_DIR, source=source)
    parsed = old_client_reads(enrollment_body(new, paused_until="2026-12-24T00:00:00Z"))
    assert parsed.additional_properties["paused_until"] == "2026-12-24T00:00:00Z"


def test_new_operation_is_reported_and_generated(tmp_path: Path) -> None:
    def add_operation(document: Document) -> None:
        some_path, item = next(iter(document["paths"].items()))
        operation = copy.deepcopy(next(op for op in item.values() if "operationId" in op))
        operation["operationId"] = "snooze_sequence_enrollment"
        document["paths"][some_path.rstrip("/") + "/snooze"] = {"post": operation}

    source = release(tmp_path, add_operation)

    changes = report_for(source)
    added = only(changes, "operation added")
    assert added.where == "snooze_sequence_enrollment"
    assert (added.deployed, added.code) == (spec_report.OK, spec_report.OK)
    assert not any(c.breaking for c in changes)


def wrapper_operation() -> tuple[str, str]:
    """An operation the wrapper calls: (operationId, its generated module path)."""
    users = spec_report.wrapper_users(WRAPPER, "unify")
    module = sorted(name for name in users if ".api." in name)[0]
    return module.rsplit(".", 1)[-1], module


def without_operation(operation_id: str) -> Callable[[Document], None]:
    def remove(document: Document) -> None:
        for item in document["paths"].values():
            for method, operation in list(item.items()):
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    del item[method]

    return remove


def test_removed_operation_is_breaking_for_both(tmp_path: Path) -> None:
    operation_id, _ = wrapper_operation()

    source = release(tmp_path, without_operation(operation_id))

    removed = only(report_for(source), "operation removed")
    assert removed.where == operation_id
    assert (removed.deployed, removed.code) == (spec_report.BREAKING, spec_report.BREAKING)
    # The wrapper methods it names: test_breaking_release_stops_make_generate_unless_allowed.


def test_field_type_change_stops_generate_and_old_clients_fail_loudly(tmp_path: Path) -> None:
    source = release(
        tmp_path,
        lambda d: d["components"]["schemas"]["Enrollment"]["properties"].update(
            created_at={"type": "integer", "description": "Unix time"}
        ),
    )

    changed = only(report_for(source), "type changed")
    assert changed.where == "Enrollment.created_at" and changed.detail.endswith("-> integer")
    assert (changed.deployed, changed.code) == (spec_report.BREAKING, spec_report.BREAKING)
    new, _ = generate.prepare_document(UNIFY_DIR, source=source)
    with pytest.raises((TypeError, ValueError)):
        old_client_reads(enrollment_body(new, created_at=1764547200))
    generate.build_vendor("unify", tmp_path / "out", source)
    api = spec_report.api_changes(ROOT / "generated", tmp_path / "out", "unify", WRAPPER)
    assert any(
        c.where.endswith("Enrollment.created_at") and "type changed" in c.detail for c in api
    )


def test_required_object_becoming_nullable_stops_generate(tmp_path: Path) -> None:
    def nullable_mailbox(document: Document) -> None:
        mailbox = document["components"]["schemas"]["Enrollment"]["properties"]["mailbox"]
        mailbox.update(
            {"nullable": True, "allOf": [{"$ref": mailbox.pop("$ref")}], "type": "object"}
        )

    source = release(tmp_path, nullable_mailbox)

    change = only(report_for(source), "became nullable")
    assert change.where == "Enrollment.mailbox"
    assert (change.deployed, change.code) == (spec_report.BREAKING, spec_report.BREAKING)
    new, _ = generate.prepare_document(UNIFY_DIR, source=source)
    with pytest.raises((TypeError, AttributeError, KeyError)):
        old_client_reads(enrollment_body(new, mailbox=None))


def test_required_text_becoming_nullable_is_reported_for_review(tmp_path: Path) -> None:
    source = release(
        tmp_path,
        lambda d: d["components"]["schemas"]["EnrollmentSequence"]["properties"]["name"].update(
            nullable=True
        ),
    )

    change = only(report_for(source), "became nullable")
    assert change.where == "EnrollmentSequence.name"
    assert (change.deployed, change.code) == (spec_report.REVIEW, spec_report.BREAKING)
    new, _ = generate.prepare_document(UNIFY_DIR, source=source)
    body = enrollment_body(new)
    body_data = body.get("data", body)
    body_data["sequence"]["name"] = None
    parsed = old_client_reads(body)
    assert parsed.sequence.name is None  # parses; typed `str`, hence "review"


@pytest.mark.parametrize("vendor_dir", [UNIFY_DIR, BOAST_DIR], ids=["unify", "boast"])
def test_prefix_moved_between_servers_and_paths_changes_nothing(
    tmp_path: Path, vendor_dir: Path
) -> None:
    def move_prefix(document: Document) -> None:
        server = document["servers"][0]
        host_root, _, prefix = server["url"].partition("//")[2].partition("/")
        scheme = server["url"].split("//")[0]
        if prefix:  # prefix in the server URL: move it into the paths
            server["url"] = f"{scheme}//{host_root}"
            document["paths"] = {
                (f"/{prefix}{path}" if "servers" not in item else path): item
                for path, item in document["paths"].items()
            }
        else:  # prefix in the paths: move the shared first segment into the server URL
            first = {path.split("/")[1] for path in document["paths"]}
            assert len(first) == 1, first
            common = "/" + "/".join(next(iter(document["paths"])).split("/")[1:3])
            assert all(path.startswith(common + "/") for path in document["paths"])
            server["url"] += common
            document["paths"] = {
                path.removeprefix(common): item for path, item in document["paths"].items()
            }

    source = release(tmp_path, move_prefix, vendor_dir)

    assert report_for(source, vendor_dir) == []
    # The generator's output is a function of the normalised document (and the templates and
    # config, unchanged here; test_generation_is_reproducible): the same document, the same code.
    moved, _ = generate.prepare_document(vendor_dir, source=source)
    as_committed, _ = generate.prepare_document(vendor_dir)
    assert moved == as_committed


def test_merged_31_excerpt_is_reported_and_keeps_every_url(tmp_path: Path) -> None:
    spec_dir = tmp_path / "spec"
    (spec_dir / "unify").mkdir(parents=True)
    for name in ("openapi.json", "openapi.source.yaml"):
        (spec_dir / "unify" / name).write_bytes((UNIFY_DIR / name).read_bytes())

    merged_ops = fetch_specs.merge("unify", str(EXCERPT_31), spec_dir)

    merged = spec_dir / "unify" / "openapi.json"
    generate.verify_provenance(merged)  # the provenance records the merged file
    assert merged_ops
    changes = report_for(merged)
    assert not [c for c in changes if c.kind.startswith("operation")]  # same absolute URLs
    removed = only(changes, "property removed")
    assert removed.where == "Enrollment.enrolled_by_play"  # 3.1 no longer lists it
    assert (removed.deployed, removed.code) == (spec_report.OK, spec_report.BREAKING)
    build = generate.build_vendor("unify", tmp_path / "out", merged)
    committed_ops = {p.stem for p in (ROOT / "generated" / "unify" / "api").glob("*/*.py")}
    assert {op.rsplit(".", 1)[-1] for op in build.operations} == committed_ops - {"__init__"}


def source_archive(destination: Path) -> Path:
    """What `make generate` reads, copied without .git."""
    for name in ("scripts", "spec", "generated"):
        shutil.copytree(
            ROOT / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(
        WRAPPER, destination / "wrapper" / "sequence_clients", symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )  # fmt: skip
    assert not (destination / ".git").exists()
    return destination


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_breaking_release_stops_make_generate_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    operation_id, module = wrapper_operation()

    source = release(tmp_path, without_operation(operation_id))
    out, changes_file = tmp_path / "generated", tmp_path / "CHANGES.md"
    api_doc = tmp_path / "api.md"
    args = [
        "--api-doc",
        str(api_doc),
        "--source",
        f"unify={source}",
        "--generated-dir",
        str(out),
        "--changes-file",
        str(changes_file),
        "--only",
        "unify",
    ]

    assert generate.main(args) == 1
    stderr = capsys.readouterr().err
    # A copy of the tree without .git (a source archive) judges the same release the same way:
    # the baseline is generated/ in the tree, not git history.
    archive = source_archive(tmp_path / "archive")
    in_archive = subprocess.run(
        [sys.executable, str(archive / "scripts" / "generate.py"), "--source", f"unify={source}",
         "--only", "unify"],
        capture_output=True, text=True, check=False, cwd=archive,
    )  # fmt: skip
    assert (in_archive.returncode, in_archive.stderr) == (1, stderr)
    assert files(archive / "generated") == files(ROOT / "generated")
    assert not (archive / "docs").exists()
    assert (archive / "spec" / "CHANGES.md").read_bytes() == (
        UNIFY_DIR.parent / "CHANGES.md"
    ).read_bytes()
    assert f"operation removed: {operation_id}" in stderr
    named = [line for line in stderr.splitlines() if f"python API: {module}:" in line]
    assert named, stderr
    for user in spec_report.wrapper_users(WRAPPER, "unify")[module]:
        assert user in named[0]  # the wrapper methods that are now dead
    assert not out.exists() and not changes_file.exists() and not api_doc.exists()

    assert generate.main([*args, "--allow-breaking"]) == 0
    report = changes_file.read_text()
    assert f"| operation removed | `{operation_id}` |" in report
    assert (out / "unify" / "api").is_dir()
    assert generate.main([*args, "--allow-breaking"]) == 0
    assert changes_file.read_text() == report  # the same release again: the same report
