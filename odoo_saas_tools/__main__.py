from odoo_saas_tools.cli import main

raise SystemExit(main())
