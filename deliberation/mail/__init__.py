"""Outgoing mail: an outbox table written in the sender's transaction, delivered over SMTP by a worker."""
