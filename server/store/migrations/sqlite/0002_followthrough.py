"""Columns the list and the worker filter and sort on (copied out of the JSON body so indexes can serve them), the
worker's lease on an escalation, and the outbox. '9999-12-31...' stands for "no follow-up pending": it sorts
last, so one index orders the list overdue-first.
"""

from yoyo import step  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]

__depends__ = {"0001_initial"}

# Statements split on ";" here (none of them holds one in a literal): sqlparse would cost a third of a second.
SQL = """
ALTER TABLE escalations ADD COLUMN status TEXT NOT NULL DEFAULT 'assessing';
ALTER TABLE escalations ADD COLUMN is_open INTEGER NOT NULL DEFAULT 1;
ALTER TABLE escalations ADD COLUMN customer_key TEXT;
ALTER TABLE escalations ADD COLUMN severity TEXT;
ALTER TABLE escalations ADD COLUMN owner TEXT;
ALTER TABLE escalations ADD COLUMN team TEXT;
ALTER TABLE escalations ADD COLUMN next_due_at TEXT NOT NULL DEFAULT '9999-12-31T23:59:59.999999+00:00';
ALTER TABLE escalations ADD COLUMN next_work_at TEXT NOT NULL DEFAULT '9999-12-31T23:59:59.999999+00:00';
ALTER TABLE escalations ADD COLUMN claimed_by TEXT;
ALTER TABLE escalations ADD COLUMN claim_until TEXT;
ALTER TABLE followups ADD COLUMN batch TEXT;
ALTER TABLE followups ADD COLUMN reminded_at TEXT;

UPDATE escalations SET
    status = coalesce(json_extract(body, '$.status'), 'assessing'),
    customer_key = lower(json_extract(body, '$.customer')),
    severity = json_extract(body, '$.severity'),
    owner = json_extract(body, '$.owner'),
    team = json_extract(body, '$.team');
UPDATE escalations SET is_open = (status IN ('assessing', 'draft', 'ready'));
UPDATE escalations SET next_due_at = coalesce(
    (SELECT min(f.due_at) FROM followups f WHERE f.escalation_id = escalations.id AND f.state = 'pending'),
    '9999-12-31T23:59:59.999999+00:00'
);
UPDATE escalations SET next_work_at = next_due_at;

CREATE TABLE escalation_targets (
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    target TEXT NOT NULL,
    PRIMARY KEY (target, escalation_id)
);
INSERT OR IGNORE INTO escalation_targets (escalation_id, target)
    SELECT e.id, t.value FROM escalations e, json_each(e.body, '$.targets') t;
CREATE INDEX escalation_targets_by_escalation ON escalation_targets(escalation_id);

CREATE INDEX escalations_open_by_due ON escalations(is_open, next_due_at, id);
CREATE INDEX escalations_by_status ON escalations(status, next_due_at, id);
CREATE INDEX escalations_by_customer ON escalations(customer_key, is_open, next_due_at, id);
CREATE INDEX escalations_by_owner ON escalations(owner, is_open, next_due_at, id);
CREATE INDEX escalations_by_team ON escalations(team, is_open, next_due_at, id);
CREATE INDEX escalations_by_severity ON escalations(severity, is_open, next_due_at, id);
CREATE INDEX escalations_work ON escalations(is_open, next_work_at);
CREATE INDEX followups_by_escalation ON followups(escalation_id, state, due_at);

CREATE TABLE outbox (
    key TEXT PRIMARY KEY,
    batch TEXT,
    escalation_id TEXT REFERENCES escalations(id),
    kind TEXT NOT NULL,
    destination TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at TEXT
);
CREATE INDEX outbox_by_batch ON outbox(batch);
CREATE INDEX outbox_unconfirmed ON outbox(sent_at, created_at);
"""

steps = [step(s.strip()) for s in SQL.split(";") if s.strip()]  # pyright: ignore[reportUnknownVariableType]
