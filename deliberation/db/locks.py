"""Every PostgreSQL advisory lock key the service uses, in one place so no two collide.

Single-key locks (`pg_advisory_xact_lock(key)`) and two-key locks (`pg_advisory_xact_lock(class, key)`) live
in separate key spaces in PostgreSQL; the numbers below are still all distinct.
"""

MIGRATIONS = 7_424_911  # concurrent starts on one embedded database migrate one after another
AUDIT_CHAIN = 7_424_912  # the transparency log is appended one entry at a time
DEMO = 7_424_913  # `deliberation demo` run twice at once still loads one copy
THROTTLE_CLASS = 7_424_914  # two-key: (class, hashtext(scope:key)) serialises counting per throttle key
