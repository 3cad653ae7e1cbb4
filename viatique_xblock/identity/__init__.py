"""Identity: the course roster, the identification desk, anonymity towards graders, dispatch to graders."""
