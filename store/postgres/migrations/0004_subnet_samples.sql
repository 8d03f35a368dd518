-- Free-IP samples of subnets taken by `gluenet serve --watch`, kept for a
-- retention period (PruneSubnetSamples).
CREATE TABLE subnet_samples (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at           timestamptz NOT NULL,
	subnet_id    text COLLATE "C" NOT NULL,
	az           text NOT NULL DEFAULT '',
	free_ips     integer NOT NULL,
	reserved_ips integer NOT NULL DEFAULT 0
);
CREATE INDEX subnet_samples_by_time ON subnet_samples (at, subnet_id);
