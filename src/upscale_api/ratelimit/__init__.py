"""Rate limits per resident (the verified Firebase uid) and per client address.

Every route is limited unless its handler says ``opt={"rate_limit": "off"}``
(health checks). Each request is checked against keys, each with its limit:

- ``address``: the client's address (see :class:`Addresses`), always, and
  before a token is verified, so that floods of made-up tokens are limited too;
- ``resident``: the verified uid, on routes whose ``Access`` guard is signed-in;
- ``invite-*``: also per address and resident, lower, on routes marked
  ``opt={"rate_limit": "invite"}`` (enrolling with an invite code, starting a team);
- ``batch-*``: on routes marked ``opt={"rate_limit": "batch"}``, counted in
  items: a batch uses one unit per item of its ``item_errors`` list (an offline
  sync of 500 actions weighs 500, one of 3 weighs 3).

A limit is ``QUOTA/SECONDS``: a key may use QUOTA units at once and gets them
back at QUOTA per SECONDS (GCRA: a token bucket kept as one timestamp per key,
the theoretical arrival time). Each key is charged when it has room; the request
passes when every key had room, so a request refused by one limit still counts
against the others (what an address sends counts however it is answered).

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-
ratelimit-headers, structured fields); a refused request is a 429 problem with
``Retry-After``, answered after a short pause. Counts live in this process
(:class:`MemoryStore`) or in PostgreSQL, shared by every process
(:class:`PostgresStore`): one statement per request checks and charges all of
its keys (two when its token must be verified first: the address, then the
resident).
"""
