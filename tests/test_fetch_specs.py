"""`make update-specs` against a local HTTP server standing in for the vendor's docs site."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

import fetch_specs
import generate

ROOT = Path(__file__).resolve().parent.parent
# The vendor's documents beside the clone (../shared, as CI has it); elsewhere: this variable.
REFERENCE = Path(os.environ.get("SEQUENCE_CLIENTS_REFERENCE", ROOT.parent / "shared" / "reference"))
DOCUMENT = json.dumps(
    {"openapi": "3.0.0", "info": {"title": "t", "version": "2"}, "paths": {}}
).encode()


@pytest.fixture
def vendor_site() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = {
                "/openapi.json": (DOCUMENT, "application/json"),
                "/proxy-error": (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
            }.get(self.path, (b"not found", "text/plain"))
            self.send_response(200 if self.path != "/missing" else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_stores_bytes_and_provenance_that_generate_accepts(
    vendor_site: str, tmp_path: Path
) -> None:
    url = f"{vendor_site}/openapi.json"
    changed = fetch_specs.fetch("unify", url, tmp_path, today=dt.date(2026, 11, 24))

    stored = tmp_path / "unify" / "openapi.json"
    record = yaml.safe_load((tmp_path / "unify" / "openapi.source.yaml").read_text())
    assert changed
    assert stored.read_bytes() == DOCUMENT
    assert record == {
        "url": url,
        "retrieved": "2026-11-24",
        "sha256": hashlib.sha256(DOCUMENT).hexdigest(),
    }
    generate.verify_provenance(stored)
    assert not fetch_specs.fetch("unify", url, tmp_path)


def test_non_json_answer_writes_nothing(vendor_site: str, tmp_path: Path) -> None:
    with pytest.raises(fetch_specs.FetchError, match="did not return JSON"):
        fetch_specs.fetch("unify", f"{vendor_site}/proxy-error", tmp_path)
    assert not (tmp_path / "unify").exists()


def test_http_error_and_unreachable_host_are_reported(vendor_site: str, tmp_path: Path) -> None:
    with pytest.raises(fetch_specs.FetchError, match="HTTP 404"):
        fetch_specs.fetch("unify", f"{vendor_site}/missing", tmp_path)
    with pytest.raises(fetch_specs.FetchError, match="could not fetch"):
        fetch_specs.fetch("unify", "http://127.0.0.1:9/openapi.json", tmp_path)


def test_local_file_is_taken_and_its_true_origin_recorded(tmp_path: Path) -> None:
    received = tmp_path / "from-the-vendor.json"
    received.write_bytes(DOCUMENT)

    assert fetch_specs.fetch("unify", str(received), tmp_path / "spec")

    record = yaml.safe_load((tmp_path / "spec" / "unify" / "openapi.source.yaml").read_text())
    assert record["url"] == str(received.resolve())
    assert (tmp_path / "spec" / "unify" / "openapi.json").read_bytes() == DOCUMENT
    generate.verify_provenance(tmp_path / "spec" / "unify" / "openapi.json")


def test_yaml_release_is_stored_as_json_with_the_received_hash(tmp_path: Path) -> None:
    received = tmp_path / "release.yaml"
    received.write_text(yaml.safe_dump(json.loads(DOCUMENT)))

    fetch_specs.fetch("unify", str(received), tmp_path / "spec")

    stored = tmp_path / "spec" / "unify" / "openapi.json"
    record = yaml.safe_load((tmp_path / "spec" / "unify" / "openapi.source.yaml").read_text())
    assert json.loads(stored.read_text()) == json.loads(DOCUMENT)
    assert record["source_sha256"] == hashlib.sha256(received.read_bytes()).hexdigest()
    assert "YAML" in record["converted"]
    generate.verify_provenance(stored)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(fetch_specs.FetchError, match="neither an http"):
        fetch_specs.fetch("unify", str(tmp_path / "nope.json"), tmp_path)


EXCERPT_31 = REFERENCE / "unify" / "create-enrollment.openapi.yaml"


def committed_copy(tmp_path: Path) -> Path:
    spec_dir = tmp_path / "spec"
    (spec_dir / "unify").mkdir(parents=True)
    for name in ("openapi.json", "openapi.source.yaml"):
        (spec_dir / "unify" / name).write_bytes((ROOT / "spec" / "unify" / name).read_bytes())
    return spec_dir


def stored_path(stored: dict[str, Any], excerpt: dict[str, Any], path: str) -> str:
    """Where the stored document keeps the excerpt's `path`: the same absolute URL."""
    absolute = excerpt["servers"][0]["url"].rstrip("/") + path
    return absolute.removeprefix(stored["servers"][0]["url"].rstrip("/"))


def test_excerpt_merge_replaces_its_operations_and_records_the_merge(tmp_path: Path) -> None:
    spec_dir = committed_copy(tmp_path)
    before = json.loads((spec_dir / "unify" / "openapi.json").read_text())

    operations = fetch_specs.merge("unify", str(EXCERPT_31), spec_dir, today=dt.date(2026, 12, 1))

    excerpt = yaml.safe_load(EXCERPT_31.read_text())
    after = json.loads((spec_dir / "unify" / "openapi.json").read_text())
    record = yaml.safe_load((spec_dir / "unify" / "openapi.source.yaml").read_text())
    assert operations == [
        op["operationId"] for item in excerpt["paths"].values() for op in item.values()
    ]
    for path, item in excerpt["paths"].items():
        # Same absolute URL: the stored path is the excerpt's, rebased on the stored server.
        stored = stored_path(before, excerpt, path)
        assert after["paths"][stored] == {**before["paths"].get(stored, {}), **item}
    assert after["paths"].keys() == before["paths"].keys()  # nothing else moved or vanished
    for name, schema in excerpt["components"]["schemas"].items():
        assert after["components"]["schemas"][name] == schema
    assert (
        record["url"]
        == yaml.safe_load((ROOT / "spec/unify/openapi.source.yaml").read_text())["url"]
    )
    assert record["merged"] == [
        {
            "source": str(EXCERPT_31.resolve()),
            "retrieved": "2026-12-01",
            "sha256": hashlib.sha256(EXCERPT_31.read_bytes()).hexdigest(),
            "operations": operations,
        }
    ]
    generate.verify_provenance(spec_dir / "unify" / "openapi.json")


def test_excerpt_for_another_host_is_refused_and_nothing_written(tmp_path: Path) -> None:
    spec_dir = committed_copy(tmp_path)
    stored = (spec_dir / "unify" / "openapi.json").read_bytes()
    elsewhere = tmp_path / "elsewhere.yaml"
    excerpt = yaml.safe_load(EXCERPT_31.read_text())
    excerpt["servers"] = [{"url": "https://api.someone-else.com/v1"}]
    elsewhere.write_text(yaml.safe_dump(excerpt))

    with pytest.raises(fetch_specs.FetchError, match="not under the stored document's server"):
        fetch_specs.merge("unify", str(elsewhere), spec_dir)
    assert (spec_dir / "unify" / "openapi.json").read_bytes() == stored


def test_merge_needs_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        fetch_specs.main(["--merge"])
    assert "--merge needs --source" in capsys.readouterr().err
