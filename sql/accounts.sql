--
-- accounts: qr_event.create_account, the stored hash, and every refusal with its SQLSTATE
--
SET qr_event.password_iterations = 1000;

-- runs one statement and reports its outcome; 00000 when it was accepted
CREATE FUNCTION pg_temp.outcome(sql text, OUT code text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    code := '00000';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
END
$$;

-- the happy path: email and display name trimmed, tier standard by default
SELECT qr_event.create_account('  Ann.Example@Example.COM ', 'correct horse battery', E' Ann Example\t') AS ann \gset
SELECT email, display_name, tier, created_at <= now() AS created_before_now,
       password_hash ~ '^[$]pbkdf2-sha256[$]i=1000[$][A-Za-z0-9+/]{22}[$][A-Za-z0-9+/]{43}$' AS hash_format,
       length(password_hash) AS hash_length,
       length(decode(rpad(split_part(password_hash, '$', 4), 24, '='), 'base64')) AS salt_bytes,
       length(decode(rpad(split_part(password_hash, '$', 5), 44, '='), 'base64')) AS key_bytes,
       strpos(password_hash, 'correct') = 0 AS no_clear_text
FROM qr_event.accounts WHERE id = :ann;
SELECT qr_event.create_account('bob@example.com', 'correct horse battery', 'Bob', 'premium') > :ann AS later_id;
SELECT email, tier FROM qr_event.accounts WHERE email = 'bob@example.com';

-- the same password never gives the same hash
SELECT count(DISTINCT split_part(password_hash, '$', 4)) AS salts,
       count(DISTINCT split_part(password_hash, '$', 5)) AS keys
FROM qr_event.accounts WHERE lower(email) IN ('ann.example@example.com', 'bob@example.com');

-- the iteration count in force is recorded in each hash
SET qr_event.password_iterations = 2000;
SELECT qr_event.create_account('cy@example.com', 'correct horse battery', 'Cy') AS cy \gset
SELECT split_part(password_hash, '$', 3) AS iterations FROM qr_event.accounts WHERE id = :cy;
SET qr_event.password_iterations = 1000;

-- limits, at their boundaries
SELECT qr_event.create_account(repeat('a', 64) || '@' || repeat('b', 189), '0123456789', repeat('d', 200)) AS longest \gset
SELECT length(email) AS email_length, length(display_name) AS display_name_length
FROM qr_event.accounts WHERE id = :longest;
SELECT qr_event.create_account('jöns@exämple.se', 'éééééééééé', 'Jöns Jönsson') AS jons \gset
SELECT email, display_name FROM qr_event.accounts WHERE id = :jons;

-- refusals
\x on
SELECT t.what, o.* FROM (VALUES
  (1, 'null email', $$SELECT qr_event.create_account(NULL, 'correct horse battery', 'X')$$),
  (2, 'null password', $$SELECT qr_event.create_account('x@example.com', NULL, 'X')$$),
  (3, 'null display name', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', NULL)$$),
  (4, 'null tier', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', 'X', NULL)$$),
  (5, 'empty email', $$SELECT qr_event.create_account('', 'correct horse battery', 'X')$$),
  (6, 'blank email', $$SELECT qr_event.create_account('   ', 'correct horse battery', 'X')$$),
  (7, 'no at sign', $$SELECT qr_event.create_account('x.example.com', 'correct horse battery', 'X')$$),
  (8, 'nothing before at', $$SELECT qr_event.create_account('@example.com', 'correct horse battery', 'X')$$),
  (9, 'nothing after at', $$SELECT qr_event.create_account('x@', 'correct horse battery', 'X')$$),
  (10, 'two at signs', $$SELECT qr_event.create_account('x@y@example.com', 'correct horse battery', 'X')$$),
  (11, 'space inside', $$SELECT qr_event.create_account('x y@example.com', 'correct horse battery', 'X')$$),
  (12, 'control character', $$SELECT qr_event.create_account(E'x\x01@example.com', 'correct horse battery', 'X')$$),
  (13, 'local part of 65', $$SELECT qr_event.create_account(repeat('a', 65) || '@example.com', 'correct horse battery', 'X')$$),
  (14, 'email of 255', $$SELECT qr_event.create_account(repeat('a', 64) || '@' || repeat('b', 190), 'correct horse battery', 'X')$$),
  (15, 'password of 9', $$SELECT qr_event.create_account('x@example.com', '123456789', 'X')$$),
  (16, 'password of 9 characters in 18 bytes', $$SELECT qr_event.create_account('x@example.com', 'ééééééééé', 'X')$$),
  (17, 'password of 1025', $$SELECT qr_event.create_account('x@example.com', repeat('p', 1025), 'X')$$),
  (18, 'empty display name', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', '')$$),
  (19, 'blank display name', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', E' \t\n ')$$),
  (20, 'display name of 201', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', repeat('d', 201))$$),
  (21, 'unknown tier', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', 'X', 'gold')$$),
  (22, 'tier in capitals', $$SELECT qr_event.create_account('x@example.com', 'correct horse battery', 'X', 'Premium')$$),
  (23, 'email taken', $$SELECT qr_event.create_account('bob@example.com', 'correct horse battery', 'X')$$),
  (24, 'email taken in other case', $$SELECT qr_event.create_account(' BOB@Example.Com ', 'correct horse battery', 'X')$$)
) AS t (n, what, sql), pg_temp.outcome(t.sql) AS o
ORDER BY t.n;
\x off

-- the minimum password length is a setting
SET qr_event.min_password_length = 12;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.create_account('dee@example.com', '12345678901', 'Dee')$$);
SELECT * FROM pg_temp.outcome($$SELECT qr_event.create_account('dee@example.com', '123456789012', 'Dee')$$);
RESET qr_event.min_password_length;

-- settings: ranges, superuser only, reserved prefix
SHOW qr_event.password_iterations;
SHOW qr_event.min_password_length;
SELECT name, setting, min_val, max_val, context, short_desc IS NOT NULL AS described
FROM pg_settings WHERE name LIKE 'qr\_event.%' ORDER BY name;
SELECT * FROM pg_temp.outcome($$SET qr_event.password_iterations = 999$$);
SELECT * FROM pg_temp.outcome($$SET qr_event.password_iterations = 10000001$$);
SELECT * FROM pg_temp.outcome($$SET qr_event.min_password_length = 7$$);
SELECT * FROM pg_temp.outcome($$SET qr_event.no_such_setting = 1$$);

-- only administrators may create accounts or change the settings
SET ROLE qr_gateway_role;
SELECT * FROM pg_temp.outcome($$SELECT qr_event.create_account('eve@example.com', 'correct horse battery', 'Eve')$$);
SELECT * FROM pg_temp.outcome($$SET qr_event.password_iterations = 5000$$);
RESET ROLE;

-- nothing refused was stored
SELECT left(email, 30) AS email, left(display_name, 20) AS display_name, tier FROM qr_event.accounts ORDER BY id;
