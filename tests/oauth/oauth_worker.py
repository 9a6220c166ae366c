"""One process of the many-processes acceptance test: `threads` BoastClients on one token store
(a FileTokenStore or a RedisTokenStore), calling the sandbox for `seconds`; prints a JSON summary.

argv[1] is a JSON object: store ("file" | "redis"), where (path or URL), base_url,
auth_base_url, client_id, client_secret, account_id, threads, seconds, margin (the client's
refresh margin, so that a token of the sandbox's short lifetime rotates several times a second).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from typing import Any

from sequence_clients import BoastClient, FileTokenStore, RedisTokenStore, oauth


def main() -> int:
    config: dict[str, Any] = json.loads(sys.argv[1])
    oauth.REFRESH_MARGIN = dt.timedelta(seconds=config["margin"])

    def store() -> FileTokenStore | RedisTokenStore:
        if config["store"] == "file":
            return FileTokenStore(config["where"])
        return RedisTokenStore(config["where"])

    # Two store objects per process, each shared by half the threads: clients on one store
    # object and clients on another store object of the same grant must both refresh once.
    stores = [store(), store()]
    ok = [0] * config["threads"]
    failures: list[str] = []
    start = threading.Barrier(config["threads"])

    def run(index: int) -> None:
        shared = stores[index % 2]
        token = shared.load()
        assert token is not None
        with BoastClient(
            account_id=config["account_id"],
            access_token=token.access_token,
            refresh_token=token.refresh_token,
            expires_at=token.expires_at,
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            token_store=shared,
            base_url=config["base_url"],
            auth_base_url=config["auth_base_url"],
            max_retries=0,  # a failure must show, not be retried away
        ) as client:
            start.wait()
            ends = time.monotonic() + config["seconds"]
            while time.monotonic() < ends:
                try:
                    client.get_account()
                    ok[index] += 1
                except Exception as error:  # reported, so the test shows what failed
                    failures.append(f"{type(error).__name__}: {error}")
                time.sleep(0.05)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(config["threads"])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"ok": sum(ok), "failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
