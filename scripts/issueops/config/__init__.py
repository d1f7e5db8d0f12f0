"""What the repository configures: `.github/issueops.yml` (`settings`), `workflow_schemas/*.yml`
(`workflows`), how both are loaded with `file:line:col` errors (`loader`), checked across files
(`validate`, `report`, `template_check`), which gates wait for a person under each policy profile
(`policy`), and what they feed at run time: the managed label set (`labels`), sandboxed
deliverable templates (`templates`) and issue-form fields (`forms`).

Layer 1: may import `core` only.
"""
