#!/usr/bin/env python3
"""The Prometheus exporter under its documented name: `odoo-saas metrics serve` with any options."""

import os
import sys

os.execvp("odoo-saas", ["odoo-saas", "metrics", "serve", *sys.argv[1:]])
