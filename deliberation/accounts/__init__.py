"""Users, access tokens, password recovery, verified representatives."""
