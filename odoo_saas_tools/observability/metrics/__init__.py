"""The Prometheus exporter's parts: one module per source of figures, a refresher, a collector."""
