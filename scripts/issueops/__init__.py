"""issueops: IssueOps automation driven by GitHub Actions."""

__version__ = "0.1.0"
