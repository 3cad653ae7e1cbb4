"""Results: release to the gradebook, the learner's view, regrade requests, downloads and signed links."""
