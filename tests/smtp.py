"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import asyncio
import email
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from tests.netutil import free_port


class Inbox:
    """The aiosmtpd handler: every accepted message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if message["To"] == address]

    async def wait_for(self, address: str, timeout: float = 10.0) -> EmailMessage:
        """The first message to `address`, waiting for a background sender to deliver it."""
        deadline = time.monotonic() + timeout
        while not self.to(address):
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {address} within {timeout} s")
            await asyncio.sleep(0.05)
        return self.to(address)[0]


class SmtpServer:
    """An SMTP server on 127.0.0.1 that can be started after the port is chosen (to test an outage)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def reset_token(message: EmailMessage) -> str:
    """The token of the reset link in a password reset mail."""
    match = re.search(r"/reset-password\?token=([A-Za-z0-9_-]+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server on loopback."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """An SMTP server not started yet: nothing listens on its port until the test calls `start()`."""
    server = SmtpServer()
    yield server
    server.stop()
