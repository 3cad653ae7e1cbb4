"""Reports: the grades CSV and ZIP exports, statistics, the audit log viewer."""
