-- gluenet state, SQLite dialect. Times are INTEGER microseconds since the
-- Unix epoch, UTC; NULL means "no time". Empty strings in attempts are NULL
-- so that upserts can keep the stored value (COALESCE).

CREATE TABLE runs (
	key         TEXT PRIMARY KEY,
	job         TEXT NOT NULL,
	status      TEXT NOT NULL,
	inputs      TEXT,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	finished_at INTEGER,
	outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_created ON runs (created_at DESC, key DESC);
CREATE INDEX runs_by_job ON runs (job, created_at DESC, key DESC);

CREATE TABLE attempts (
	run_key       TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	number        INTEGER NOT NULL CHECK (number >= 1),
	plan          TEXT,
	order_applied TEXT, -- JSON array of connection names
	glue_run_id   TEXT,
	phase         TEXT,
	final_state   TEXT,
	error_message TEXT,
	class         TEXT,
	started_at    INTEGER,
	ended_at      INTEGER,
	subnet        TEXT,
	az            TEXT,
	PRIMARY KEY (run_key, number)
);

CREATE TABLE attempt_states (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	run_key TEXT NOT NULL,
	number  INTEGER NOT NULL,
	state   TEXT NOT NULL,
	at      INTEGER NOT NULL,
	FOREIGN KEY (run_key, number) REFERENCES attempts (run_key, number) ON DELETE CASCADE,
	UNIQUE (run_key, number, state, at)
);

CREATE TABLE health (
	scope                TEXT NOT NULL,
	key                  TEXT NOT NULL,
	consecutive_failures INTEGER NOT NULL,
	ejections            INTEGER NOT NULL,
	ejected_until        INTEGER,
	last_failure         INTEGER,
	last_success         INTEGER,
	last_class           TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (scope, key)
);

CREATE TABLE health_events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL,
	scope  TEXT NOT NULL,
	key    TEXT NOT NULL,
	kind   TEXT NOT NULL,
	class  TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX health_events_by_time ON health_events (at DESC, id DESC);

CREATE TABLE reservations (
	id            TEXT PRIMARY KEY,
	subnet_id     TEXT NOT NULL,
	az            TEXT NOT NULL DEFAULT '',
	ips           INTEGER NOT NULL,
	job           TEXT NOT NULL DEFAULT '',
	run_id        TEXT NOT NULL DEFAULT '',
	baseline_free INTEGER NOT NULL,
	created_at    INTEGER,
	expires_at    INTEGER NOT NULL
);
CREATE INDEX reservations_by_expiry ON reservations (expires_at);

CREATE TABLE subnet_cache (
	connection TEXT PRIMARY KEY,
	subnet_id  TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);

-- A released lease keeps its row (holder '') so that the next token is
-- still greater than every earlier one.
CREATE TABLE leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL DEFAULT '',
	token      INTEGER NOT NULL,
	expires_at INTEGER
);
