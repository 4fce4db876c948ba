"""The whole ledger on PostgreSQL. '9999-12-31 23:59:59.999999+00' stands for "no follow-up pending": it sorts
last, so one index orders the list overdue-first.
"""

from yoyo import step  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]

# Statements split on ";" here (none of them holds one in a literal): sqlparse would cost a third of a second.
SQL = """
CREATE TABLE escalations (
    id TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    is_open BOOLEAN NOT NULL,
    customer_key TEXT,
    severity TEXT,
    owner TEXT,
    team TEXT,
    next_due_at TIMESTAMPTZ NOT NULL DEFAULT '9999-12-31 23:59:59.999999+00',
    next_work_at TIMESTAMPTZ NOT NULL DEFAULT '9999-12-31 23:59:59.999999+00',
    claimed_by TEXT,
    claim_until TIMESTAMPTZ
);
CREATE TABLE timeline (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    at TIMESTAMPTZ NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX timeline_by_escalation ON timeline(escalation_id, seq);
CREATE TABLE followups (
    id TEXT PRIMARY KEY,
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    kind TEXT NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    batch TEXT,
    reminded_at TIMESTAMPTZ
);
CREATE INDEX followups_by_escalation ON followups(escalation_id, state, due_at);
CREATE TABLE escalation_targets (
    escalation_id TEXT NOT NULL REFERENCES escalations(id),
    target TEXT NOT NULL,
    PRIMARY KEY (target, escalation_id)
);
CREATE INDEX escalation_targets_by_escalation ON escalation_targets(escalation_id);
CREATE INDEX escalations_open_by_due ON escalations(is_open, next_due_at, id);
CREATE INDEX escalations_by_status ON escalations(status, next_due_at, id);
CREATE INDEX escalations_by_customer ON escalations(customer_key, is_open, next_due_at, id);
CREATE INDEX escalations_by_owner ON escalations(owner, is_open, next_due_at, id);
CREATE INDEX escalations_by_team ON escalations(team, is_open, next_due_at, id);
CREATE INDEX escalations_by_severity ON escalations(severity, is_open, next_due_at, id);
CREATE INDEX escalations_work ON escalations(is_open, next_work_at);
CREATE TABLE outbox (
    key TEXT PRIMARY KEY,
    batch TEXT,
    escalation_id TEXT REFERENCES escalations(id),
    kind TEXT NOT NULL,
    destination TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    sent_at TIMESTAMPTZ
);
CREATE INDEX outbox_by_batch ON outbox(batch);
"""

steps = [step(s.strip()) for s in SQL.split(";") if s.strip()]  # pyright: ignore[reportUnknownVariableType]
