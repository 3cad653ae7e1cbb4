"""Grading: the workspace, leases, the copy list, the graded PDF's rendering."""
