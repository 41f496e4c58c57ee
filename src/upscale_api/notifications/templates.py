"""Localised message templates; ``{name}`` placeholders are filled per resident.

English is the fallback for a locale a template lacks.
"""

from __future__ import annotations

WEEKLY_SUMMARY = {
    "title": {
        "sl": "Vaš teden: {kg} kg CO₂e manj",
        "en": "Your week: {kg} kg CO₂e saved",
    },
    "body": {
        "sl": "Prejšnji teden ste zabeležili {actions} trajnostnih dejanj v {days} dneh. Kar tako naprej!",
        "en": "Last week you logged {actions} sustainable actions on {days} days. Keep it up!",
    },
}

CAMPAIGN_STARTED = {
    "title": {"sl": "Začelo se je: {campaign}", "en": "It has started: {campaign}"},
    "body": {
        "sl": "Kampanja {campaign} se je začela. Vpišite svoje prvo dejanje!",
        "en": "{campaign} has started. Log your first action!",
    },
}

CAMPAIGN_ENDED = {
    "title": {"sl": "Konec: {campaign}", "en": "Finished: {campaign}"},
    "body": {
        "sl": "Kampanja {campaign} se je končala. Hvala, da ste sodelovali!",
        "en": "{campaign} has ended. Thank you for taking part!",
    },
}
