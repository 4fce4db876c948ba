"""The first ledger schema, as SqliteLedger created it before migrations existed (IF NOT EXISTS: such files already
hold these tables, and this step then only records itself).
"""

from yoyo import step  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]

# Statements split on ";" here (none of them holds one in a literal): sqlparse would cost a third of a second.
SQL = """
CREATE TABLE IF NOT EXISTS escalations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS timeline (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS timeline_by_escalation ON timeline(escalation_id, seq);
CREATE TABLE IF NOT EXISTS followups (
    id TEXT PRIMARY KEY,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    kind TEXT NOT NULL,
    due_at TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS followups_due ON followups(state, due_at);
"""

steps = [step(s.strip()) for s in SQL.split(";") if s.strip()]  # pyright: ignore[reportUnknownVariableType]
