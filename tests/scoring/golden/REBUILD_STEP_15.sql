SET LOCAL enable_hashagg = off
