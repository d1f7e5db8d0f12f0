"""The vocabulary every layer shares: snapshots and actions (`model`), the state machine (`states`),
error types (`errors`), global options (`options`), the bot's marked comments (`comments`), Markdown
escaping (`markdown`) and YAML read with its positions (`yamlpos`).

Layer 0: pure, no I/O. It imports nothing from issueops outside `core/`.
"""
