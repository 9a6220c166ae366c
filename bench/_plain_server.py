"""A plain HTTP/1.1 keep-alive server for bench/transport.py: every request, whatever its path,
gets the same small JSON answer (a paused sequence, so the Unify clients can parse it). Bare
asyncio with no framework, so the client's CPU is what the benchmark sees, not the server's.

    python bench/_plain_server.py      # prints the port it listens on, then serves until killed
"""

from __future__ import annotations

import asyncio
import sys

BODY = b'{"id": "3d1f0e2c-5b4a-4c3d-9e8f-7a6b5c4d3e2f", "is_paused": true}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    b"content-length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


class Plain(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(ANSWER)


async def main() -> None:
    server = await asyncio.get_running_loop().create_server(Plain, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
