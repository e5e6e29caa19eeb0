"""ML layer: features, training, model registry, inference and sentiment (built in the ML issue).

May import the core (``shriven``) only; flows and tasks import it.
"""
