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

CHALLENGE_MET = {
    "title": {"sl": "Izziv opravljen: {title}", "en": "Challenge met: {title}"},
    "body": {
        "sl": "Izziv »{title}« v kampanji {campaign} je opravljen. Čestitamo!",
        "en": "You met the challenge “{title}” in {campaign}. Well done!",
    },
}

TEAM_CHALLENGE_MET = {
    "title": {"sl": "Ekipa je uspela: {title}", "en": "Your team did it: {title}"},
    "body": {
        "sl": "Vaša ekipa je v kampanji {campaign} opravila izziv »{title}«. Čestitamo vsem!",
        "en": "Your team met the challenge “{title}” in {campaign}. Well done, all of you!",
    },
}

GOAL_REACHED = {
    "title": {"sl": "Skupni cilj dosežen: {title}", "en": "Goal reached together: {title}"},
    "body": {
        "sl": "Udeleženci kampanje {campaign} so skupaj dosegli cilj »{title}«. Hvala za vaš prispevek!",
        "en": "Together, the participants of {campaign} reached “{title}”. Thank you for your part!",
    },
}

BADGE_EARNED = {
    "title": {"sl": "Nova značka: {title}", "en": "New badge: {title}"},
    "body": {
        "sl": "V kampanji {campaign} ste prejeli značko »{title}«.",
        "en": "You earned the badge “{title}” in {campaign}.",
    },
}
