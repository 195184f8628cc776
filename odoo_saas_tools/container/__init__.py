"""What runs in the container: the start sequence (PID 1 before supervisord), supervisord itself,
and the programs it supervises (Odoo with signal forwarding, the FATAL watchdog)."""
