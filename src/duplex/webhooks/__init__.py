"""Outgoing webhooks: signed HTTP POSTs of committed events, retried with backoff, with a delivery log."""

from duplex.webhooks.dispatcher import WebhookDispatcher, post_signed
from duplex.webhooks.signing import signature, verify_signature

__all__ = ["WebhookDispatcher", "post_signed", "signature", "verify_signature"]
