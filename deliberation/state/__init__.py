"""A session as a client's screen needs it: one consistent snapshot, with the seq it is as of."""
