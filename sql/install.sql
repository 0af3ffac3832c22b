--
-- install: CREATE EXTENSION qr_event and what it creates, read from the catalogs
--
CREATE EXTENSION qr_event;

-- the loaded library matches the installed SQL objects
SELECT e.extversion, qr_event.version() AS library_version,
       qr_event.version() = e.extversion AS versions_match,
       e.extnamespace::regnamespace AS schema, e.extrelocatable
FROM pg_extension e WHERE e.extname = 'qr_event';

-- every member object of the extension
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS member
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'qr_event')
  AND d.deptype = 'e'
ORDER BY pg_describe_object(d.classid, d.objid, d.objsubid) COLLATE "C";

-- tables
SELECT c.relname, c.relpersistence, c.relrowsecurity,
       obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
FROM pg_class c
WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1;

-- indexes
SELECT tablename, indexname, regexp_replace(indexdef, '^.* USING ', 'USING ') AS definition
FROM pg_indexes
WHERE schemaname = 'qr_event'
ORDER BY tablename, indexname;

-- functions, with who may run them
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) AS result,
       l.lanname AS language, p.provolatile AS volatility, p.proisstrict AS strict,
       p.proparallel AS parallel, p.prosecdef AS security_definer,
       EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
               WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'qr_event'::regnamespace
ORDER BY p.oid::regprocedure::text COLLATE "C";

SELECT pg_get_function_arguments('qr_event.create_account(text,text,text,text)'::regprocedure) AS create_account_arguments;

-- roles: cluster-wide, without login or special powers
SELECT rolname, rolcanlogin, rolsuper, rolinherit, rolcreaterole, rolcreatedb,
       rolreplication, rolbypassrls,
       shobj_description(oid, 'pg_authid') IS NOT NULL AS commented
FROM pg_roles
WHERE rolname IN ('qr_gateway_role', 'qr_analyst')
ORDER BY 1;

-- what each role may do on the schema, the tables and the sequences
SELECT 'qr_event' AS object, r.rolname,
       has_schema_privilege(r.rolname, 'qr_event', 'USAGE') AS usage,
       has_schema_privilege(r.rolname, 'qr_event', 'CREATE') AS "create"
FROM pg_roles r WHERE r.rolname IN ('qr_gateway_role', 'qr_analyst')
ORDER BY 2;

SELECT c.relname, r.rolname,
       coalesce((SELECT string_agg(p, ',' ORDER BY p)
                 FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                   'REFERENCES', 'TRIGGER', 'USAGE']) AS p
                 WHERE CASE c.relkind
                         WHEN 'S' THEN p IN ('SELECT', 'UPDATE', 'USAGE')
                                       AND has_sequence_privilege(r.rolname, c.oid, p)
                         ELSE p <> 'USAGE' AND has_table_privilege(r.rolname, c.oid, p)
                       END), '') AS table_privileges,
       coalesce((SELECT string_agg(a.attname || ':' || p, ',' ORDER BY a.attnum, p)
                 FROM pg_attribute a, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) AS p
                 WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                   AND c.relkind <> 'S'
                   AND NOT has_table_privilege(r.rolname, c.oid, p)
                   AND has_column_privilege(r.rolname, c.oid, a.attnum, p)), '') AS column_privileges
FROM pg_class c CROSS JOIN pg_roles r
WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind IN ('r', 'S')
  AND r.rolname IN ('qr_gateway_role', 'qr_analyst')
ORDER BY r.rolname, c.relname;

-- pg_dump keeps the rows of every table and the position of every identity
SELECT c.config::regclass AS config_dump, c.condition
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS c (config, condition)
WHERE e.extname = 'qr_event'
ORDER BY c.config::regclass::text COLLATE "C";

-- every column is documented too (tables, functions and roles are checked above)
SELECT c.relname, a.attname AS undocumented_column
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'qr_event'::regnamespace AND c.relkind = 'r'
  AND a.attnum > 0 AND NOT a.attisdropped
  AND col_description(c.oid, a.attnum) IS NULL
ORDER BY 1, 2;

-- the roles survive DROP EXTENSION, and CREATE EXTENSION reuses them
DROP EXTENSION qr_event;
SELECT rolname FROM pg_roles WHERE rolname IN ('qr_gateway_role', 'qr_analyst') ORDER BY 1;
CREATE EXTENSION qr_event;
SELECT has_table_privilege('qr_gateway_role', 'qr_event.guests', 'INSERT') AS gateway_granted_again;
