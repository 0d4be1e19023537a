"""marginlex.audit: decision traces, the tamper-evident ledger, explain, verify, replay."""
