"""Scanning: uploads, scan batches, splitting into copies, the anomaly queue, printable booklets."""
