"""The demo center's call script (the demo-renewals campaign): a greeting with the lead's name, a yes/no that
branches to the offer (a plan, a start date, delivery details) or to the reason for saying no."""

from __future__ import annotations

from typing import Any

__all__ = ["demo_script"]


def demo_script() -> dict[str, Any]:
    return {
        "start": "greet",
        "pages": {
            "greet": {
                "title": "Greeting",
                "text": "Hello {{lead.first_name}}, this is {{agent.name}} from Duplex. Your plan is up for "
                "renewal this month. Do you have two minutes to hear the new offer?",
                "questions": [
                    {
                        "key": "wants_offer",
                        "label": "Wants to hear the offer",
                        "type": "yes_no",
                        "required": True,
                    }
                ],
                "branches": [{"if": "wants_offer", "equals": "yes", "goto": "offer"}],
                "next": "reason",
            },
            "offer": {
                "title": "Offer",
                "text": "The yearly plan saves 20%. Which plan would suit you, {{lead.first_name}}?",
                "questions": [
                    {
                        "key": "plan",
                        "label": "Plan",
                        "type": "choice",
                        "options": ["monthly", "yearly"],
                        "required": True,
                    },
                    {"key": "start_date", "label": "Start date", "type": "date", "required": True},
                    {"key": "lines", "label": "Number of lines", "type": "number", "min": 1, "max": 50},
                    {
                        "key": "delivery_address",
                        "label": "Delivery address for the SIM cards",
                        "type": "text",
                    },
                ],
                "next": "close",
            },
            "reason": {
                "title": "No time or no interest",
                "text": "No problem. May I ask why?",
                "questions": [
                    {
                        "key": "reason",
                        "label": "Reason",
                        "type": "choice",
                        "options": ["no time now", "happy as is", "too expensive", "other"],
                    }
                ],
                "next": "close",
            },
            "close": {"title": "Close", "text": "Thank you for your time, {{lead.first_name}}. Goodbye."},
        },
    }
