-- Shared by the pgTAP files (included with \ir): runs sql as role inside the test
-- transaction and reports its SQLSTATE.
-- runs sql as role and undoes it; returns its SQLSTATE, 00000 when it succeeded
CREATE FUNCTION pg_temp.sqlstate_as(role name, sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', role);
    EXECUTE sql;
    RAISE EXCEPTION USING ERRCODE = 'QRT00';
EXCEPTION WHEN OTHERS THEN
    RETURN CASE SQLSTATE WHEN 'QRT00' THEN '00000' ELSE SQLSTATE END;
END
$$;
