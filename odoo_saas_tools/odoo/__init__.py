"""odoo"""
