-- Open data: each city's published aggregates as the publication job last
-- rendered them (docs/opendata.md). The body is served as stored, so a request
-- reads one row; the ETag is the digest of the figures, so it changes only when
-- a published figure does and a harvester polling with If-None-Match gets 304.
CREATE TABLE open_data_publications (
    city_id       integer PRIMARY KEY REFERENCES cities (id),
    digest        text NOT NULL,              -- of the figures; the ETag
    modified_at   timestamptz NOT NULL,       -- when a figure last changed
    checked_at    timestamptz NOT NULL,       -- when the job last computed them
    first_week    date,                       -- the Monday of the first ISO week published
    last_week     date,                       -- the Monday of the last
    rows          integer NOT NULL,
    suppressed    integer NOT NULL,
    json_body     bytea NOT NULL,
    csv_body      bytea NOT NULL
);
