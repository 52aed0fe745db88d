"""Network helpers shared by tests that start servers of their own."""

from __future__ import annotations

import itertools
import os
import random
import socket

# Each pytest-xdist worker (PYTEST_XDIST_WORKER=gw0, gw1, ...; a run without xdist counts as gw0) takes ports from a
# block of its own, below the kernel's ephemeral ports (32768 and up on Linux): no other worker, and no outgoing
# connection, is handed a port a test has chosen but not bound yet (an `smtp_down` server's, say). The block is
# walked from a random place, so two test runs on one machine rarely try the same port at once.
FIRST_PORT, BLOCK = 20000, 500
_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % 25
_block = range(FIRST_PORT + _worker * BLOCK, FIRST_PORT + (_worker + 1) * BLOCK)
_ports = itertools.islice(itertools.cycle(_block), random.randrange(BLOCK), None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, from this worker's block (never the same one
    twice until the block has gone round)."""
    for port in itertools.islice(_ports, BLOCK):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_block}")
