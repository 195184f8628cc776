"""Custom domains of tenants (erp.acme.com → acme): claimed, proven through DNS, served by Odoo's
routing (the tenancy addon) and certified by the front proxy (Caddy's on-demand TLS asks
`tls_ask`) or, on Kubernetes, by cert-manager through one Ingress per domain (`ingress`)."""
