"""Plausible fake names for companies and people, drawn from a seeded generator."""

from __future__ import annotations

import re

import numpy as np

FIRST = (
    "Olivia Liam Emma Noah Ava Elijah Sophia Lucas Mia Mateo Amelia Ethan Harper Aarav Isla "
    "Kenji Yuki Chen Mei Wei Hiroshi Sakura Ana Diego Camila Javier Lucia Pedro Valentina "
    "Fatima Omar Layla Yusuf Amara Kwame Zainab Tunde Ngozi Ingrid Lars Freya Anders Sven Greta "
    "Pierre Camille Julien Chloe Marco Giulia Luca Sofia Priya Rohan Ananya Vikram Neha Arjun "
    "Hannah Jacob Sarah David Rachel Michael Laura James Emily Daniel Grace Samuel Nora Henry "
    "Zoe Leo Maya Adam Clara Felix Iris Hugo Elena Nikolai Katya Tomasz Zofia Jan Eva Miguel "
    "Rosa Ahmed Leila Kofi Abena Min-jun Ji-woo Thabo Naledi Oscar Alice Victor Jade"
).split()

LAST = (
    "Smith Johnson Garcia Martinez Brown Nguyen Kim Patel Shah Singh Chen Wang Li Zhang Tanaka "
    "Sato Suzuki Rossi Bianchi Romano Muller Schmidt Fischer Weber Dubois Moreau Laurent Bernard "
    "Silva Santos Costa Oliveira Pereira Lopez Hernandez Gonzalez Perez Sanchez Ramirez Torres "
    "Okafor Adeyemi Mensah Owusu Diallo Haddad Khalil Nasser Cohen Levi Andersson Johansson "
    "Nielsen Hansen Larsen Kowalski Nowak Novak Horvat Ivanov Petrov Sokolova Murphy Kelly "
    "OBrien Walsh Campbell Stewart Taylor Wilson Davies Evans Thomas Roberts Clarke Wright "
    "Hughes Green Baker Hall Young King Scott Adams Mitchell Carter Reyes Cruz Morales Ortiz"
).split()

_COMPANY_A = (
    "North Blue Bright Silver Iron Cedar Summit Harbor Clear True Nova Apex Red Green Swift "
    "Pine Granite Maple Coral Orbit Lumen Vertex Atlas Beacon Crest Delta Ember Fjord Helix "
    "Juniper Keystone Lark Meridian Nimbus Oak Pioneer Quartz River Sierra Tidal Umber Vista "
    "Willow Zenith Aurora Bold Copper Drift Echo Falcon Golden Horizon Indigo"
).split()

_COMPANY_B = (
    "wind peak field stone bridge line path point gate works labs forge wave light ridge "
    "bay brook dale mark star craft leaf spring sight loop shore view"
).split()

_COMPANY_SUFFIX = {
    "Software": ("Software", "Technologies", "Systems", "Labs", "Cloud"),
    "Financial Services": ("Capital", "Financial", "Partners", "Payments", "Advisors"),
    "Healthcare": ("Health", "Medical", "Care", "Clinics", "Bio"),
    "Retail": ("Retail", "Goods", "Outfitters", "Market", "Brands"),
    "Manufacturing": ("Manufacturing", "Industries", "Fabrication", "Components", "Works"),
    "Education": ("Learning", "Academy", "Education", "Schools", "Institute"),
    "Logistics": ("Logistics", "Freight", "Shipping", "Transport", "Supply"),
    "Media": ("Media", "Studios", "Publishing", "Creative", "Productions"),
    "Insurance": ("Insurance", "Assurance", "Mutual", "Underwriters", "Risk"),
    "Energy": ("Energy", "Power", "Renewables", "Utilities", "Grid"),
    "Telecom": ("Telecom", "Networks", "Communications", "Mobile", "Connect"),
    "Public Sector": ("Council", "Agency", "Authority", "Services", "Trust"),
    "Travel": ("Travel", "Journeys", "Hotels", "Voyages", "Airways"),
}

TITLES = {
    "champion": (
        "Head of Operations",
        "VP Customer Success",
        "Director of IT",
        "Operations Manager",
        "Head of Product",
        "Director of Analytics",
        "COO",
        "Program Manager",
    ),
    "admin": ("IT Administrator", "Systems Manager", "Operations Lead", "Team Lead"),
    "member": (
        "Project Manager",
        "Analyst",
        "Engineer",
        "Designer",
        "Coordinator",
        "Account Manager",
        "Consultant",
        "Specialist",
        "Data Analyst",
        "Marketing Manager",
    ),
    "viewer": ("Executive Assistant", "Finance Manager", "Stakeholder", "Auditor"),
}


def slug(text: str) -> str:
    """Lowercase letters and digits only, for emails and domains."""
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def company_names(rng: np.random.Generator, industries: list[str]) -> list[str]:
    """One unique company name per account, its suffix fitting its industry."""
    seen: set[str] = set()
    out = []
    for ind in industries:
        suffixes = _COMPANY_SUFFIX.get(ind, ("Group",))
        for attempt in range(50):
            a = _COMPANY_A[rng.integers(len(_COMPANY_A))]
            b = _COMPANY_B[rng.integers(len(_COMPANY_B))]
            s = suffixes[rng.integers(len(suffixes))]
            name = f"{a}{b} {s}" if attempt < 40 else f"{a}{b} {s} {attempt}"
            if name not in seen:
                break
        seen.add(name)
        out.append(name)
    return out


def person_names(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    """`n` (first, last) name pairs."""
    f = rng.integers(len(FIRST), size=n)
    last = rng.integers(len(LAST), size=n)
    return [(FIRST[i], LAST[j]) for i, j in zip(f, last, strict=True)]
