DROP INDEX users_external_id_key;
DROP INDEX businesses_external_id_key;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE businesses DROP COLUMN external_id;
