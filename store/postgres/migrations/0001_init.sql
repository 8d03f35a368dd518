-- gluenet state, Postgres dialect. Times are timestamptz (microseconds);
-- NULL means "no time". Empty strings in attempts are NULL so that upserts
-- can keep the stored value (COALESCE). Keys that results are ordered by
-- use the "C" collation so that every database, whatever its locale,
-- orders them byte by byte, as SQLite does.

CREATE TABLE runs (
	key         text COLLATE "C" PRIMARY KEY,
	job         text NOT NULL,
	status      text NOT NULL,
	inputs      json,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL,
	finished_at timestamptz,
	outcome     text NOT NULL DEFAULT ''
);
CREATE INDEX runs_by_created ON runs (created_at DESC, key DESC);
CREATE INDEX runs_by_job ON runs (job, created_at DESC, key DESC);

CREATE TABLE attempts (
	run_key       text COLLATE "C" NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
	number        integer NOT NULL CHECK (number >= 1),
	plan          json,
	order_applied text[],
	glue_run_id   text,
	phase         text,
	final_state   text,
	error_message text,
	class         text,
	started_at    timestamptz,
	ended_at      timestamptz,
	subnet        text,
	az            text,
	PRIMARY KEY (run_key, number)
);

CREATE TABLE attempt_states (
	seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_key text COLLATE "C" NOT NULL,
	number  integer NOT NULL,
	state   text NOT NULL,
	at      timestamptz NOT NULL,
	FOREIGN KEY (run_key, number) REFERENCES attempts (run_key, number) ON DELETE CASCADE,
	UNIQUE (run_key, number, state, at)
);

CREATE TABLE health (
	scope                text COLLATE "C" NOT NULL,
	key                  text COLLATE "C" NOT NULL,
	consecutive_failures integer NOT NULL,
	ejections            integer NOT NULL,
	ejected_until        timestamptz,
	last_failure         timestamptz,
	last_success         timestamptz,
	last_class           text NOT NULL DEFAULT '',
	PRIMARY KEY (scope, key)
);

CREATE TABLE health_events (
	id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at     timestamptz NOT NULL,
	scope  text NOT NULL,
	key    text NOT NULL,
	kind   text NOT NULL,
	class  text NOT NULL DEFAULT '',
	detail text NOT NULL DEFAULT ''
);
CREATE INDEX health_events_by_time ON health_events (at DESC, id DESC);

CREATE TABLE reservations (
	id            text COLLATE "C" PRIMARY KEY,
	subnet_id     text NOT NULL,
	az            text NOT NULL DEFAULT '',
	ips           integer NOT NULL,
	job           text NOT NULL DEFAULT '',
	run_id        text NOT NULL DEFAULT '',
	baseline_free integer NOT NULL,
	created_at    timestamptz,
	expires_at    timestamptz NOT NULL
);
CREATE INDEX reservations_by_expiry ON reservations (expires_at);

CREATE TABLE subnet_cache (
	connection text PRIMARY KEY,
	subnet_id  text NOT NULL,
	expires_at timestamptz NOT NULL
);

-- A released lease keeps its row (holder '') so that the next token is
-- still greater than every earlier one.
CREATE TABLE leases (
	name       text PRIMARY KEY,
	holder     text NOT NULL DEFAULT '',
	token      bigint NOT NULL,
	expires_at timestamptz
);

-- Rows locked FOR UPDATE to serialize read-modify-write transactions that
-- span tables (health memory), across every machine sharing the database.
CREATE TABLE store_locks (
	name text PRIMARY KEY
);
INSERT INTO store_locks (name) VALUES ('health');
