-- Roles besides the owner (synapse), created once when the cluster is initialised.
-- Passwords are never kept in git: after the first start, set grafana's from a root shell in the
-- container (`mbctl shell nerchat-pgsql` on relink) with `psql -U synapse -c '\password grafana'`.

-- nerchat-backup: pg_dump over the unix socket (see pg_hba.conf).
CREATE ROLE backup WITH LOGIN;
GRANT pg_read_all_data TO backup;

-- us-grafana on lothric: read-only dashboards of room and user counts, over yggdrasil.
CREATE ROLE grafana WITH LOGIN;
GRANT CONNECT ON DATABASE synapse TO grafana;
GRANT pg_read_all_data TO grafana;
