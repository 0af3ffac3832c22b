-- Included (\ir) at the end of a SQL section of make bench: prints the section's target
-- table from its temporary table figures, then writes every figure to the file named
-- by the psql variable figures, for bench_figure_rows in tests/bench/lib.sh.

SELECT '';
SELECT '| target | measured | met |';
SELECT '| --- | ---: | --- |';
SELECT format('| %s | %s | %s |', target, shown, CASE WHEN met THEN 'yes' ELSE 'NO' END)
FROM figures WHERE target IS NOT NULL ORDER BY n;

\pset fieldsep '\t'
\o :figures
SELECT id, description, measured, unit, baseline_desc, baseline, ratio, ratio_of, target,
       CASE met WHEN true THEN 'yes' WHEN false THEN 'no' END
FROM figures ORDER BY n;
\o
