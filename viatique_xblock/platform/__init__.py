"""Everything read from the platform (Open edX or the workbench): compat, settings, checks, cache, lockout, storage, translations, the Celery queue, warm-up."""
