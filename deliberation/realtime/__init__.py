"""Live session stream: the session event log, wake-ups between instances, the websocket, presence."""
