"""A mixed workload for ``bench/routing_savings.py``: what a CRM assistant and a mobile chat app send.

Each request carries the tier it truly needs (``small`` or ``frontier``), judged by hand when the
templates were written: short lookups, greetings, rewrites and one-line summaries need ``small``;
analysis, maths, code, multi-constraint documents and negotiations need ``frontier``. The CRM requests
carry what CRM traffic really carries: pasted e-mails with signatures, disclaimers and quoted history,
the same knowledge-base article retrieved again on every turn, and long conversation histories.
Generated deterministically (seeded), so every run replays the same requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

CRM_SYSTEM = ("You are the Contoso CRM assistant. You help sales and support reps with accounts, "
              "opportunities, cases and e-mails.   Be accurate and concise.\n\n\n")
MOBILE_SYSTEM = "You are Contoso's friendly in-app assistant for the Contoso Shop mobile app."

KB_ARTICLES = [
    "Returns and refunds: Customers may return unused products within 30 days of delivery. Refunds go to "
    "the original payment method within 5 business days after the warehouse receives the item. Items "
    "marked final sale cannot be returned. Enterprise contracts follow the terms in their master agreement.",
    "Service levels: Premium support answers priority-1 cases within 1 hour, 24/7, and priority-2 cases "
    "within 4 business hours. Standard support answers within 1 business day. Credits of 5% of the monthly "
    "fee apply for each missed priority-1 response, capped at 25% per month.",
    "Pricing: The Team plan costs 12 USD per seat per month billed annually, or 15 USD monthly. The "
    "Business plan costs 29 USD per seat per month billed annually. Volume discounts start at 200 seats "
    "and need approval from the regional sales director above 15%.",
]
SIGNATURE = ("\n\nBest regards,\nMarta Kowalski\nProcurement Lead, Fabrikam Ltd.\n-- \nMarta Kowalski | "
             "+48 22 555 0134\nSent from my iPhone\n"
             "This email and any attachments are confidential and intended solely for the addressee.\n"
             "\nOn Tue, 4 Nov 2025 at 09:12, Contoso Sales <sales@contoso.com> wrote:\n> Dear Marta,\n"
             "> thank you for your interest in our Business plan.\n> Kind regards,\n> Contoso Sales")
ACCOUNTS = ["Fabrikam", "Northwind", "Adventure Works", "Tailspin Toys", "Woodgrove Bank", "Litware"]

CRM_SIMPLE = [
    "What is the phone number of the {account} account owner?",
    "When is the renewal date for {account}?",
    "Log a call with {account}: discussed onboarding, next step demo on Friday.",
    "Translate this reply into German: 'We will send the invoice tomorrow.'",
    "Which stage is the {account} opportunity in?",
    "Give me a subject line for a follow-up e-mail to {account}.",
    "Is {account} on the Team or the Business plan?",
    "Mark the {account} case as resolved.",
    "Write a one-line thank-you note to {account} for the meeting.",
    "Who is our contact at {account}?",
]
CRM_HARD = [
    "Analyse the {account} pipeline: three opportunities slipped two quarters in a row. Explain the likely "
    "causes, compare them with last year's pattern and recommend a plan to recover the forecast.",
    "{account} asks for a 22% discount on 340 Business seats with a 3-year term. Calculate the annual "
    "contract value with and without the discount, explain whether it needs director approval and draft "
    "a negotiation strategy with concessions we can trade.",
    "Draft a detailed reply to this complaint. It must: 1. acknowledge the missed priority-1 response "
    "2. calculate the service credit they are owed 3. propose preventive actions 4. stay under 200 words "
    "5. keep a professional tone.\n\nCustomer e-mail:\nOur P1 case was answered after 3 hours twice this "
    "month. We pay 4,800 USD per month for Premium support. This is unacceptable.",
    "Write a SQL query over opportunities(id, account, stage, amount, close_date, owner) that returns each "
    "owner's win rate and average deal size for the last four quarters, then explain how to read it.",
    "Compare the churn risk of {account} and Northwind using these signals: logins down 40%, two open P1 "
    "cases, champion left the company, usage of the reporting module up 15%. Prioritise actions for each.",
    "Design a territory plan for next year: 6 reps, 120 named accounts, 3 regions, with quotas weighted by "
    "account potential. Explain the trade-offs of your approach.",
]
MOBILE_SIMPLE = [
    "hi", "Hello!", "thanks!", "Where is my order?", "How do I change my password?",
    "Do you have this jacket in blue?", "What are your opening hours?", "Can I pay with PayPal?",
    "How long does delivery take to Porto?", "ok great", "Is the sale still on?", "Track my parcel please",
    "How do I turn on notifications?", "Can I change my delivery address?", "good morning",
    "What sizes does the running shoe come in?", "Cancel my order please", "Do you ship to Ireland?",
]
MOBILE_HARD = [
    "I was charged twice for order 5512 and the refund shows only half the amount. Explain step by step "
    "what happened and what I should do, considering my bank takes 5 days to show refunds.",
    "Compare the three running shoes you sell for a marathon beginner with flat feet: cushioning, "
    "stability and price per kilometre if each lasts 600, 800 and 500 km at 120, 150 and 95 EUR.",
    "Help me plan a budget: I earn 2,400 EUR a month, rent is 900, and I want to save for a 1,500 EUR "
    "bike in 6 months. Calculate how much to set aside each week and suggest where to cut.",
    "Why does the app keep logging me out every few minutes on Android 14, and how can I diagnose it?",
]


@dataclass
class WorkloadRequest:
    app: str  # crm | mobile
    tier: str  # the tier the request truly needs
    messages: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


def _crm_history(rng: random.Random, turns: int, article: str) -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = []
    for i in range(turns):
        account = rng.choice(ACCOUNTS)
        history.append({"role": "user", "content": f"Knowledge base:\n\n{article}\n\n"
                                                   f"Question {i + 1}: what does this mean for {account}?"})
        history.append({"role": "assistant", "content": f"For {account}, the policy means the standard terms "
                                                         f"apply unless their contract says otherwise. " * 3})
    return history


def build(seed: int = 42, crm: int = 90, mobile: int = 110) -> list[WorkloadRequest]:
    rng = random.Random(seed)
    out: list[WorkloadRequest] = []
    for _ in range(crm):
        hard = rng.random() < 0.4
        account = rng.choice(ACCOUNTS)
        article = rng.choice(KB_ARTICLES)
        template = rng.choice(CRM_HARD if hard else CRM_SIMPLE)
        ask = template.format(account=account)
        if rng.random() < 0.5:  # a pasted customer e-mail, as reps do
            ask += SIGNATURE
        turns = rng.choice((0, 1, 2, 4, 6))
        messages = [{"role": "system", "content": CRM_SYSTEM}, *_crm_history(rng, turns, article),
                    {"role": "user", "content": f"Knowledge base:\n\n{article}\n\n{ask}"}]
        out.append(WorkloadRequest("crm", "frontier" if hard else "small", messages, {"max_tokens": 800}))
    for _ in range(mobile):
        hard = rng.random() < 0.15
        ask = rng.choice(MOBILE_HARD if hard else MOBILE_SIMPLE)
        history: list[dict[str, Any]] = []
        for _ in range(rng.choice((0, 0, 1, 3))):
            history += [{"role": "user", "content": rng.choice(MOBILE_SIMPLE)},
                        {"role": "assistant", "content": "Sure! Happy to help with that.   Anything else?"}]
        messages = [{"role": "system", "content": MOBILE_SYSTEM}, *history, {"role": "user", "content": ask}]
        out.append(WorkloadRequest("mobile", "frontier" if hard else "small", messages))
    rng.shuffle(out)
    return out


# What each app enables when the optimisation run is measured.
OPTIMISATION = {
    "crm": {"normalise_whitespace": True, "strip_boilerplate": True, "dedupe_context": True,
            "history_token_budget": 1200, "max_tokens_cap": 600},
    "mobile": {"normalise_whitespace": True, "history_token_budget": 400, "max_tokens_cap": 300},
}
