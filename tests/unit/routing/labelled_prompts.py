"""Prompts labelled with the tier they truly need, written for the routing tests.

``small``: a small model answers as well as a frontier one (greetings, lookups, short factual or
formatting asks, one-line rewrites). ``frontier``: multi-step reasoning, code, maths, long structured
documents, many constraints, or long conversations with tools.
"""

from __future__ import annotations

SIMPLE = [
    "hi",
    "Hello! Are you there?",
    "Thanks, that worked.",
    "What time does the Lisbon store open on Saturdays?",
    "Where is my order 48213?",
    "How much is the premium plan per month?",
    "Translate 'good morning' into Spanish.",
    "What's the capital of Canada?",
    "Can I change my delivery address?",
    "Do you ship to Norway?",
    "Define churn rate in one sentence.",
    "Spell 'accommodation' for me.",
    "Is there a student discount?",
    "Reset my password please",
    "Who is the account manager for Fabrikam?",
    "Give me a synonym for 'quick'.",
    "Write a one-line thank-you note to a customer named Ana.",
    "What is the status of ticket 7781?",
    "Convert 5 km to miles.",
    "Summarise in one sentence: The meeting moved to Thursday at 10am in room B.",
    "ok",
    "When does my subscription renew?",
    "Make this sound friendlier: 'Your request was denied.'",
    "What does CRM stand for?",
    "List three colours.",
    "Is the app available on Android?",
    "Tell me a short joke about cats.",
    "How many items are in my cart?",
    "Good morning!",
    "Fix the typo: 'Thnak you for your order'",
    "What's the weather like usually in Madrid in May?",
    "Can you recommend a name for a pet goldfish?",
    "Yes, please cancel it.",
    "What is the phone number for support?",
    "Give me the opening hours of the call centre.",
    "Shorten this subject line: 'Following up regarding our conversation from last week about pricing'",
    "Which plan includes SMS notifications?",
    "Bye, thanks for the help",
    "Rewrite 'pls call me back asap' more politely.",
    "How do I log out of the app?",
]

COMPLEX = [
    "Write a Python function that parses ISO-8601 durations like 'P3DT4H' into seconds, with unit tests.",
    "Explain why our Q3 churn rose while NPS also rose, and list three hypotheses with how to test each.",
    "Compare PostgreSQL and Cosmos DB for a multi-tenant CRM with 50k tenants: consistency, cost, "
    "partitioning, and migrations. Recommend one and justify it.",
    "Solve: a loan of 250,000 at 4.2% annual interest compounded monthly over 25 years. What is the "
    "monthly payment, and how much interest is paid in total? Show the steps.",
    "Debug this:\n```js\nconst total = items.reduce((a, b) => a + b.price);\nconsole.log(total.toFixed(2));\n```\n"
    "It prints '[object Object]19.99'. Why, and how do I fix it?",
    "Draft a detailed proposal (about 800 words) for migrating our support team from email to a ticketing "
    "system, including timeline, risks, training plan and success metrics.",
    "Analyse the trade-offs between fine-tuning a small model and prompting a frontier model for "
    "classifying support tickets into 40 categories, considering cost, latency and accuracy.",
    "Given the sales table (region, rep, month, amount), write a SQL query that returns each region's top "
    "3 reps by year-to-date revenue, with ties broken by the most recent sale.",
    "Our customer says the invoice is wrong: they were billed 3 seats at 49 EUR plus 20% VAT but think they "
    "should pay for 2 seats pro rata from the 14th of a 30-day month. Calculate both amounts and explain "
    "the difference step by step.",
    "Design the architecture for a real-time fraud detection pipeline processing 10k events per second, "
    "covering ingestion, feature store, model serving and monitoring. Explain each choice.",
    "Write a negotiation strategy for renewing a 2M USD enterprise contract where the customer threatens "
    "to move to a competitor; include concessions we should and should not make.",
    "Refactor this class to remove the duplicated validation and make it testable:\n```python\n"
    "class Order:\n    def __init__(self, items):\n        if not items: raise ValueError()\n"
    "        self.items = items\n    def add(self, item):\n        if not item: raise ValueError()\n"
    "        self.items.append(item)\n```",
    "Prove that the sum of the first n odd numbers equals n squared.",
    "Create a comprehensive onboarding plan for a new enterprise customer with 5 departments. It must "
    "include: 1. a kickoff agenda 2. data migration steps 3. training per role 4. success criteria "
    "5. a risk register. Format the answer as sections with tables.",
    "Why does my Kubernetes pod restart with exit code 137 every few hours, and how should I diagnose it?",
    "Evaluate these three pricing options for our mobile app (freemium, 4.99 one-off, 1.99/month) given "
    "a 3% conversion rate and 40% monthly retention; estimate 12-month revenue per 10k installs.",
    "Write a regular expression that validates IBANs for DE, FR and NL, and explain each part.",
    "Summarise the attached contract and identify clauses that create liability risk for us; for each one, "
    "propose alternative wording and explain the reasoning.",
    "What would happen to our cash flow if we moved all customers from annual prepaid plans to monthly "
    "billing? Model the first 18 months assuming 5% monthly churn.",
    "Write a TypeScript React hook that debounces a search input, cancels stale fetches with "
    "AbortController and caches results, with tests.",
    "Plan a phased rollout of a new recommendation model to 2 million users with guardrails, rollback "
    "criteria and an A/B test design with the sample size you would need to detect a 1% uplift.",
    "Compute the expected value and variance of the number of support tickets per day if each of 1,200 "
    "customers independently opens a ticket with probability 0.015.",
    "Critique this marketing email for tone, clarity and compliance with GDPR, then rewrite it. Make sure "
    "the rewrite is at most 150 words, includes an unsubscribe line and keeps the discount code.",
    "Explain step by step how a transformer's attention mechanism works, with the matrix shapes at each "
    "stage for a batch of 8 sequences of 512 tokens.",
    "Write a Bicep template for a Function App with a managed identity, a Cosmos DB account and role "
    "assignments, and explain how to deploy it.",
    "Assess the root cause of the outage from these logs and recommend preventive actions:\n"
    "12:01 db connection pool exhausted\n12:02 retries exceeded\n12:02 circuit open for payments\n"
    "12:05 autoscaler added 4 nodes\n12:07 pool exhausted again",
    "Our forecasting model underestimates December demand every year. Diagnose likely causes and propose "
    "a better approach, including how you would validate it.",
    "Write a detailed technical specification for an offline-first sync engine for our mobile app, "
    "covering conflict resolution, schema migrations and battery usage.",
    "Translate this legal clause into plain English and explain its implications for a small business "
    "that processes customer payments on behalf of others: 'The Processor shall indemnify ...'",
    "Help me decide between hiring two junior engineers or one senior engineer for our data team; weigh "
    "cost, ramp-up time, mentoring load and risk over two years.",
    "Implement a rate limiter in Go that supports per-tenant token buckets shared across instances via "
    "Redis, and explain how it handles clock skew.",
    "Write a 1,000-word article on the implications of the EU AI Act for customer-service chatbots.",
    "Given our funnel (10,000 visits, 8% sign-up, 25% activation, 30% paid), which stage should we "
    "optimise first to double paid users, and why? Quantify the options.",
    "Build a step-by-step troubleshooting decision tree for customers whose payments fail in the app, "
    "covering card, bank, network and fraud-block cases.",
    "Write unit tests for a function that splits a bill among friends with uneven shares and rounding "
    "to cents, including edge cases; then implement the function in Python.",
    "Explain the difference between optimistic and pessimistic concurrency control, and when each is "
    "the right choice for an inventory system with flash sales.",
    "Prioritise these 12 backlog items for next quarter using RICE scoring, show the scores in a table and "
    "justify the top 3.",
    "Reconcile these two customer lists and explain how you would deduplicate records with misspelt "
    "names, different email addresses and shared phone numbers.",
    "Design a database schema for a loyalty programme with tiers, expiring points and partner "
    "redemptions; explain the indexes you would add.",
    "Analyse why the conversion rate of our checkout dropped after the redesign, using these metrics: "
    "page load +0.8s, form fields 7 -> 11, mobile share 62%.",
]

LABELLED: list[tuple[str, str]] = [(p, "small") for p in SIMPLE] + [(p, "frontier") for p in COMPLEX]
