"""`make update-specs`: download each vendor's current published OpenAPI document into spec/.

The file is stored byte for byte as the vendor serves it, and its provenance (URL, date, sha256) is
recorded beside it, so `make generate` can tell a deliberate update from an accidental edit. After it
runs: `make generate`, then review the diff of spec/ and generated/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path

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


def fetch(vendor: str, url: str, spec_dir: Path, today: dt.date | None = None) -> bool:
    """Store the document at `url` for `vendor`; return True when it changed."""
    name = PUBLISHED.get(vendor, (url, "openapi.json"))[1]
    try:
        response = httpx.get(url, timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=True)
    except httpx.HTTPError as error:
        raise FetchError(f"{vendor}: could not fetch {url}: {error}") from error
    if response.status_code != 200:
        raise FetchError(f"{vendor}: {url} answered HTTP {response.status_code}")
    body = response.content
    try:
        document = json.loads(body)
    except ValueError as error:
        raise FetchError(
            f"{vendor}: {url} did not return JSON ({error}); nothing written"
        ) from error
    if not isinstance(document, dict) or "openapi" not in document or "paths" not in document:
        raise FetchError(f"{vendor}: {url} returned JSON that is not an OpenAPI document")

    target = spec_dir / vendor / name
    changed = not target.exists() or target.read_bytes() != body
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    record = {
        "url": url,
        "retrieved": (today or dt.date.today()).isoformat(),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    provenance = target.with_name(target.stem + ".source.yaml")
    provenance.write_text(
        HEADER.format(vendor=vendor, name=name) + yaml.safe_dump(record, sort_keys=False)
    )
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vendor", choices=sorted(PUBLISHED), action="append")
    parser.add_argument("--url", help="fetch from this URL instead of the published one")
    args = parser.parse_args(argv)
    status = 0
    for vendor in args.vendor or sorted(PUBLISHED):
        url = args.url or PUBLISHED[vendor][0]
        try:
            changed = fetch(vendor, url, ROOT / "spec")
        except FetchError as error:
            print(f"error: {error}", file=sys.stderr)
            status = 1
            continue
        verdict = "changed: run `make generate` and review the diff" if changed else "unchanged"
        print(f"{vendor}: {url} -> spec/{vendor}/ ({verdict})")
    return status


if __name__ == "__main__":
    sys.exit(main())
