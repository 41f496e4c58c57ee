SET LOCAL enable_hashagg TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT;
SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT;SET LOCAL enable_mergejoin = off
