"""`make update-specs` against a local HTTP server standing in for the vendor's docs site."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

import fetch_specs
import generate

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
