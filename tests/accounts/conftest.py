from tests.smtp import smtp_down, smtp_server

__all__ = ["smtp_down", "smtp_server"]
