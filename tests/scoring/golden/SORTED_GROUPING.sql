SET LOCAL enable_hashagg = off; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off
