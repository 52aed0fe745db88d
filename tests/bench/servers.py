"""`python -m tests.bench.servers SERVER --port P --workers 1`: the service on another ASGI server (scenario 14).

Settings come from the environment, as `deliberation serve` takes them (`Service` sets them). The uvicorn variants
are `deliberation serve` itself with only uvicorn's websocket protocol swapped (`deliberation.cli.SERVER_WS`);
granian serves the same app factory through its ASGI interface, on uvloop, with as many workers. `bare` is not
the service: tests.bench.bare's minimal app on the same uvicorn, loop and parser (scenario 3's bare_stack).
"""

from __future__ import annotations

import argparse
import sys

# Server -> what it runs, for the bench lines: the service's (scenario 14), then the bare stack.
SERVICE_SERVERS = {
    "uvicorn-websockets": "uvicorn ws=websockets",
    "uvicorn-websockets-sansio": "uvicorn ws=websockets-sansio",
    "uvicorn-wsproto": "uvicorn ws=wsproto",
    "granian": "granian ASGI (Rust HTTP and websockets)",
}
SERVERS = {**SERVICE_SERVERS, "bare": "a bare Litestar app (tests.bench.bare) on uvicorn"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.servers")
    parser.add_argument("server", choices=SERVERS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    from tests.bench.load import raise_fd_limit

    raise_fd_limit()
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        Granian(
            "deliberation.app:create_app",
            factory=True,
            address="127.0.0.1",
            port=args.port,
            interface=Interfaces.ASGI,
            loop=Loops.uvloop,
            workers=args.workers,
            websockets=True,
        ).serve()
        return 0
    from deliberation import cli

    if args.server == "bare":
        import uvicorn

        uvicorn.run(
            "tests.bench.bare:create_app",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            loop=cli.SERVER_LOOP,
            http=cli.SERVER_HTTP,
            log_level="warning",
        )
        return 0

    cli.SERVER_WS = args.server.removeprefix("uvicorn-")  # read by cli.uvicorn_options when serve starts
    return cli.main(["serve", "--port", str(args.port), "--workers", str(args.workers)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
