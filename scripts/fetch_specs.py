"""`make update-specs`: take a vendor's OpenAPI document into spec/, recording where it came from.

    make update-specs                                   # the published URL
    make update-specs UNIFY_SPEC=<url or local file>    # a release received some other way
    make update-specs UNIFY_SPEC=<excerpt> MERGE=1      # a release of some operations only

A whole document is stored byte for byte as received (YAML is stored as JSON, and says so), and its
provenance (origin, date, sha256) is recorded beside it, so `make generate` can tell a deliberate
update from an accidental edit. An excerpt (a document holding some operations, like Unify's 3.1
page for POST /enrollments) is merged into the stored document instead: each of its operations
replaces the one with the same absolute URL and method (or the same operationId, which is then a
move), its components replace those of the same name, and the provenance lists the merge under
`merged:`. After it runs: `make generate`, then review the change report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
# Boast publishes no OpenAPI document; spec/boast/openapi.yaml is written by hand from its docs.
PUBLISHED = {
    "unify": ("https://docs.unifygtm.com/developers/api/sequences/openapi.json", "openapi.json"),
}
HEADER = (
    "# Provenance of spec/{vendor}/{name}. scripts/generate.py refuses to generate when the file's\n"
    "# hash differs from sha256 below; scripts/fetch_specs.py (make update-specs) rewrites this file.\n"
)


class FetchError(Exception):
    pass


def fetch(vendor: str, source: str, spec_dir: Path, today: dt.date | None = None) -> bool:
    """Store the document at `source` (URL or file) for `vendor`; return True when it changed."""
    name = PUBLISHED.get(vendor, (source, "openapi.json"))[1]
    body, document = _read(vendor, source)
    record: dict[str, Any] = {"url": _origin(source)}
    if document is not None:  # YAML: stored as JSON, the received bytes' hash kept
        record["converted"] = "from YAML to JSON by scripts/fetch_specs.py"
        record["source_sha256"] = hashlib.sha256(body).hexdigest()
        body = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    return _store(vendor, name, spec_dir, body, record, today)


def merge(vendor: str, source: str, spec_dir: Path, today: dt.date | None = None) -> list[str]:
    """Merge the excerpt at `source` into the stored document; return the operations it brought."""
    name = PUBLISHED.get(vendor, (source, "openapi.json"))[1]
    target = spec_dir / vendor / name
    if not target.exists():
        raise FetchError(
            f"{vendor}: nothing stored in {target} to merge into; fetch a whole document"
        )
    body, parsed = _read(vendor, source)
    excerpt = parsed if parsed is not None else json.loads(body)
    document = json.loads(target.read_bytes())
    operations = _merge_document(document, excerpt, vendor)
    provenance = target.with_name(target.stem + ".source.yaml")
    record = yaml.safe_load(provenance.read_text()) if provenance.exists() else {}
    record.pop("sha256", None)
    entry = {
        "source": _origin(source),
        "retrieved": (today or dt.date.today()).isoformat(),
        "sha256": hashlib.sha256(body).hexdigest(),
        "operations": operations,
    }
    record["merged"] = [*record.get("merged", []), entry]
    merged = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
    _store(vendor, name, spec_dir, merged, record, today)
    return operations


def _read(vendor: str, source: str) -> tuple[bytes, dict[str, Any] | None]:
    """The bytes at `source`, and the parsed document when it is YAML (None: JSON)."""
    if urlsplit(source).scheme in ("http", "https"):
        try:
            response = httpx.get(
                source, timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=True
            )
        except httpx.HTTPError as error:
            raise FetchError(f"{vendor}: could not fetch {source}: {error}") from error
        if response.status_code != 200:
            raise FetchError(f"{vendor}: {source} answered HTTP {response.status_code}")
        body = response.content
    else:
        path = Path(source.removeprefix("file://"))
        if not path.is_file():
            raise FetchError(f"{vendor}: {source} is neither an http(s) URL nor a readable file")
        body = path.read_bytes()
    document: Any
    yaml_source = source.lower().endswith((".yaml", ".yml"))
    try:
        document = yaml.safe_load(body) if yaml_source else json.loads(body)
    except (ValueError, yaml.YAMLError) as error:
        kind = "YAML" if yaml_source else "JSON"
        raise FetchError(
            f"{vendor}: {source} did not return {kind} ({error}); nothing written"
        ) from error
    if not isinstance(document, dict) or "openapi" not in document or "paths" not in document:
        raise FetchError(f"{vendor}: {source} is not an OpenAPI document; nothing written")
    return body, document if yaml_source else None


def _origin(source: str) -> str:
    if urlsplit(source).scheme in ("http", "https"):
        return source
    return str(Path(source.removeprefix("file://")).resolve())


def _store(
    vendor: str,
    name: str,
    spec_dir: Path,
    body: bytes,
    record: dict[str, Any],
    today: dt.date | None,
) -> bool:
    target = spec_dir / vendor / name
    changed = not target.exists() or target.read_bytes() != body
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    record = {
        **record,
        "retrieved": record.get("retrieved", (today or dt.date.today()).isoformat()),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    provenance = target.with_name(target.stem + ".source.yaml")
    provenance.write_text(
        HEADER.format(vendor=vendor, name=name) + yaml.safe_dump(record, sort_keys=False)
    )
    return changed


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _merge_document(document: dict[str, Any], excerpt: dict[str, Any], vendor: str) -> list[str]:
    """Put the excerpt's operations and components into `document`; return their operationIds."""
    base_server = _server_url(document.get("servers"))
    by_id = {
        op.get("operationId"): (path, method)
        for path, item in document.get("paths", {}).items()
        for method, op in item.items()
        if method in _METHODS and isinstance(op, dict)
    }
    merged = []
    excerpt_server = _server_url(excerpt.get("servers"))
    for path, item in excerpt.get("paths", {}).items():
        for method in [m for m in _METHODS if m in item]:
            operation = item[method]
            server = _server_url(operation.get("servers") or item.get("servers")) or excerpt_server
            absolute = server.rstrip("/") + path
            if not absolute.startswith(base_server.rstrip("/") + "/"):
                raise FetchError(
                    f"{vendor}: {method.upper()} {absolute} is not under the stored document's "
                    f"server {base_server}; nothing written"
                )
            local = absolute.removeprefix(base_server.rstrip("/"))
            previous = by_id.get(operation.get("operationId"))
            if previous and previous != (local, method):  # the release moved it
                del document["paths"][previous[0]][previous[1]]
                if not any(m in document["paths"][previous[0]] for m in _METHODS):
                    del document["paths"][previous[0]]
            document.setdefault("paths", {}).setdefault(local, {})[method] = operation
            merged.append(str(operation.get("operationId", f"{method} {local}")))
    for section, entries in excerpt.get("components", {}).items():
        document.setdefault("components", {}).setdefault(section, {}).update(entries)
    return merged


def _server_url(servers: Any) -> str:
    if not servers:
        return ""
    url = str(servers[0].get("url", ""))
    for variable, spec in servers[0].get("variables", {}).items():
        url = url.replace("{" + variable + "}", str(spec.get("default", "")))
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--vendor", choices=sorted(PUBLISHED), action="append")
    parser.add_argument(
        "--url", "--source", dest="source",
        help="take the document from this URL or local file instead of the published URL",
    )  # fmt: skip
    parser.add_argument(
        "--merge", action="store_true",
        help="the source is an excerpt: merge its operations into the stored document",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge and not args.source:
        parser.error("--merge needs --source (UNIFY_SPEC=...)")
    status = 0
    for vendor in args.vendor or sorted(PUBLISHED):
        source = args.source or PUBLISHED[vendor][0]
        try:
            if args.merge:
                operations = merge(vendor, source, ROOT / "spec")
                verdict = f"merged {', '.join(operations)}: run `make generate` and read the report"
            else:
                changed = fetch(vendor, source, ROOT / "spec")
                verdict = (
                    "changed: run `make generate` and read the report" if changed else "unchanged"
                )
        except FetchError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
            continue
        print(f"{vendor}: {source} -> spec/{vendor}/ ({verdict})")
    return status


if __name__ == "__main__":
    sys.exit(main())
