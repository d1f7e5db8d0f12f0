"""Who may move an item past a gate, and what the bot says about it: the comment-command grammar
(`grammar`), the engine that recomputes approvals from history (`engine`), the content-bound record
kept in the status comment (`record`), the texts of the status and denial replies (`status`), and
whose activity counts (`activity`). Which gates wait for a person is configuration
(`config.policy`); the `commands` stage plans with all of these.

Layer 2: may import `core` and `config`.
"""
