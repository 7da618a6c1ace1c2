-- Spool segments already written to the database. The writer records a segment's name in the same
-- transaction as its readings, so a crash between that commit and deleting the file does not write
-- its dead letters and manual entries twice (readings are absorbed by their primary key anyway).
CREATE TABLE spool_replayed (
    segment   text PRIMARY KEY,
    replayed  timestamptz NOT NULL DEFAULT now()
);
