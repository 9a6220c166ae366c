"""One UnifyClient with the shared rate limit, in its own process: `python client_worker.py`.

Reads its config (JSON) from stdin's first line, builds
`UnifyClient(..., rate_limit=LIMIT, rate_limit_storage=STORAGE)`, prints "ready", reads the
start time (epoch seconds) from the second line, then calls `get_sequence` as fast as the
client lets it until `seconds` have passed. Prints {"calls": n, "failures": [...]} as JSON; the
library's warnings go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from sequence_clients import UnifyClient, errors


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    config = json.loads(sys.stdin.readline())
    failures: list[str] = []
    calls = 0
    with UnifyClient(
        config["api_key"],
        base_url=config["base_url"],
        allow_insecure_http=True,
        rate_limit=config["limit"],
        rate_limit_storage=config["storage"],
    ) as client:
        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        time.sleep(max(0.0, start_at - time.time()))
        end = start_at + config["seconds"]
        while time.time() < end:
            try:
                client.get_sequence(config["sequence_id"])
            except errors.SequenceClientError as error:
                failures.append(f"{type(error).__name__}: {error}")
            calls += 1
    print(json.dumps({"calls": calls, "failures": failures}), flush=True)


if __name__ == "__main__":
    main()
