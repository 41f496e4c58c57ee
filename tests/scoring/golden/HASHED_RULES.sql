SET LOCAL enable_mergejoin = off
