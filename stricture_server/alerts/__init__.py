"""Alerts: signed webhooks and Slack messages when a run's changes break other services.

``rules`` parses the configuration file's ``alerts`` section; ``match`` picks a run's alerts;
``payload`` builds what is sent; ``signing`` signs it (Standard Webhooks); ``outbox`` stores
each alert and its delivery history as create-only objects; ``transport`` sends one request
under the outbound safety rules; ``deliver`` drains the outbox with leases and retries.
"""
