-- Free-IP samples of subnets taken by `gluenet serve --watch`, kept for a
-- retention period (PruneSubnetSamples).
CREATE TABLE subnet_samples (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	at           INTEGER NOT NULL,
	subnet_id    TEXT NOT NULL,
	az           TEXT NOT NULL DEFAULT '',
	free_ips     INTEGER NOT NULL,
	reserved_ips INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX subnet_samples_by_time ON subnet_samples (at, subnet_id);
