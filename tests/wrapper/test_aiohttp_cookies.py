"""AioHttpClient keeps httpx's cookies: its jar skips only answers that set none."""

from __future__ import annotations

import httpx

from sequence_clients import AioHttpClient


def _answers(seen: list[str]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie", ""))
        if request.url.path == "/set":
            return httpx.Response(200, headers=[("set-cookie", "session=abc; Path=/")])
        return httpx.Response(200)

    return httpx.MockTransport(answer)


async def test_cookies_set_by_an_answer_are_sent_back_and_others_kept() -> None:
    seen: list[str] = []
    async with AioHttpClient(transport=_answers(seen), cookies={"given": "1"}) as http:
        await http.get("http://api.test/plain")
        assert dict(http.cookies) == {"given": "1"}
        await http.get("http://api.test/set")
        await http.get("http://api.test/plain")
        assert dict(http.cookies) == {"given": "1", "session": "abc"}
        http.cookies = {"replaced": "2"}
        await http.get("http://api.test/plain")
    assert seen == ["given=1", "given=1", "given=1; session=abc", "replaced=2"]
