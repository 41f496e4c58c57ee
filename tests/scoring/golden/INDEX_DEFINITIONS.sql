SELECT t.relname AS table_name,
       CASE WHEN k.oid IS NULL THEN format('DROP INDEX %I', i.relname)
            ELSE format('ALTER TABLE %I DROP CONSTRAINT %I', t.relname, k.conname) END AS drop_statement,
       CASE WHEN k.oid IS NULL THEN pg_get_indexdef(i.oid)
            ELSE format('ALTER TABLE %I ADD CONSTRAINT %I %s', t.relname, k.conname, pg_get_constraintdef(k.oid))
       END AS create_statement
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
LEFT JOIN pg_constraint k ON k.conindid = i.oid AND k.conrelid = t.oid
WHERE t.oid = ANY($1::text[]::regclass[])
ORDER BY t.relname, i.relname
