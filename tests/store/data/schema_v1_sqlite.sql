-- Schema v1 (revision 0001) of the engagement store, as the first release wrote it
-- on SQLite. Frozen: do not regenerate; it stands for databases in the field.

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

CREATE TABLE engagement (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	client VARCHAR(200) NOT NULL,
	project VARCHAR(200) NOT NULL,
	goal VARCHAR NOT NULL,
	deployment_target VARCHAR NOT NULL,
	language VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL
);

CREATE TABLE dataset (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	engagement_id INTEGER NOT NULL,
	content_hash VARCHAR(64) NOT NULL,
	kind VARCHAR NOT NULL,
	stored_path VARCHAR NOT NULL,
	original_name VARCHAR NOT NULL,
	size_bytes INTEGER NOT NULL,
	file_count INTEGER NOT NULL,
	profile JSON,
	created_at DATETIME NOT NULL,
	FOREIGN KEY(engagement_id) REFERENCES engagement (id) ON DELETE CASCADE
);

CREATE INDEX ix_dataset_engagement_id ON dataset (engagement_id);

CREATE INDEX ix_dataset_content_hash ON dataset (content_hash);

CREATE TABLE recommendation (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	dataset_id INTEGER NOT NULL,
	inputs JSON NOT NULL,
	output JSON NOT NULL,
	rule_trail JSON NOT NULL,
	knowledge_version VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	FOREIGN KEY(dataset_id) REFERENCES dataset (id) ON DELETE CASCADE
);

CREATE INDEX ix_recommendation_dataset_id ON recommendation (dataset_id);

CREATE TABLE run (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	dataset_id INTEGER NOT NULL,
	recommendation_id INTEGER,
	config JSON NOT NULL,
	status VARCHAR(16) NOT NULL,
	stage VARCHAR NOT NULL,
	progress FLOAT NOT NULL,
	message VARCHAR NOT NULL,
	metrics JSON,
	result JSON,
	seconds FLOAT,
	device VARCHAR,
	library_versions JSON,
	error VARCHAR,
	pid INTEGER,
	hostname VARCHAR,
	created_at DATETIME NOT NULL,
	started_at DATETIME,
	finished_at DATETIME,
	FOREIGN KEY(dataset_id) REFERENCES dataset (id) ON DELETE CASCADE,
	FOREIGN KEY(recommendation_id) REFERENCES recommendation (id) ON DELETE SET NULL
);

CREATE INDEX ix_run_dataset_id ON run (dataset_id);

CREATE INDEX ix_run_status ON run (status);

CREATE TABLE report (
	id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	engagement_id INTEGER NOT NULL,
	run_id INTEGER,
	format VARCHAR(16) NOT NULL,
	path VARCHAR NOT NULL,
	created_at DATETIME NOT NULL,
	FOREIGN KEY(engagement_id) REFERENCES engagement (id) ON DELETE CASCADE,
	FOREIGN KEY(run_id) REFERENCES run (id) ON DELETE SET NULL
);

CREATE INDEX ix_report_engagement_id ON report (engagement_id);

INSERT INTO alembic_version (version_num) VALUES ('0001');
