"""JSONL telemetry: the event catalogue, the durable sink, readers, verification and the report."""
