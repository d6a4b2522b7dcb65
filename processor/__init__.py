"""The processor: consumes accepted webhook events from JetStream, upserts the buyer through
customer_service, links each sold product's identifier through identifier_service, records the
event's outcome in its own database, and only then acknowledges the message.

Run it with `python -m processor [run|migrate]`; any number of replicas share the durable consumer.
"""
