"""`python -m issueops` is the `issueops` console script."""

from issueops.cli import main

main()
