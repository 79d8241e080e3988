"""Monitoring: drift, data quality, performance with late labels, monitors, reports and alerts."""
