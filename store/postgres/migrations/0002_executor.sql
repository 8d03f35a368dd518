-- The executor's state of a run: one versioned record (JSON) per run key,
-- replaced as a whole under compare-and-swap on revision, so that two
-- processes stepping one run never overwrite each other's progress.
CREATE TABLE run_state (
	run_key    text COLLATE "C" PRIMARY KEY REFERENCES runs (key) ON DELETE CASCADE,
	revision   bigint NOT NULL,
	data       json NOT NULL,
	updated_at timestamptz NOT NULL
);
