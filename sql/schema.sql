--
-- schema: the columns of every table and every constraint, from the catalogs
--
SELECT table_name, column_name, data_type, is_nullable, column_default,
       is_identity, identity_generation
FROM information_schema.columns
WHERE table_schema = 'qr_event'
ORDER BY table_name, ordinal_position;

SELECT conrelid::regclass AS "table", conname, contype, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE connamespace = 'qr_event'::regnamespace
ORDER BY conrelid::regclass::text COLLATE "C", conname;

-- identity sequences: bigint, from 1
SELECT s.seqrelid::regclass AS sequence, s.seqtypid::regtype AS type, s.seqstart,
       s.seqincrement, s.seqcycle
FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = 'qr_event'::regnamespace
ORDER BY s.seqrelid::regclass::text COLLATE "C";
