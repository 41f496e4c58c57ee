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
