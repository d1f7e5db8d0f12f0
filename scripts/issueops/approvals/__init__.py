"""Who may move an item past a gate, and what the bot says about it: the comment-command grammar
(`grammar`), the engine that recomputes approvals from history (`engine`), the content-bound record
kept in the status comment (`record`), the texts of the status and denial replies (`status`), the
policy profiles that decide which gates wait for a person (`policy`), and whose activity counts
(`activity`). The `commands` stage plans with these.

Layer 2: may import `core` and `config`.
"""
