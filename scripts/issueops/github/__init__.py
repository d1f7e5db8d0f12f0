"""GitHub access: the port the stages use, its PyGithub adapter and the API governor.

Only this package imports PyGithub.
"""
