-- Retention (store.Retention): finished runs and health events are pruned
-- by age, expired reservations and subnet cache entries by expiry. The
-- maintenance row records when the last prune on write ran, so that of all
-- the processes writing in one interval exactly one prunes.

CREATE INDEX runs_by_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX subnet_cache_by_expiry ON subnet_cache (expires_at);

CREATE TABLE maintenance (
	name    text PRIMARY KEY,
	done_at timestamptz NOT NULL
);
INSERT INTO maintenance (name, done_at) VALUES ('prune', '-infinity');
