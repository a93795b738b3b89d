"""What every Kafka client of the apps is given, so that it follows a cluster that loses a broker.

aiokafka learns which broker leads which partition from the cluster's metadata, and refreshes it every five
minutes by default. A fetch that fails because its broker died does not ask sooner: measured on the cluster
profile (e2e/test_node_loss.py), a consumer kept fetching from a killed broker for minutes after the other
brokers had taken over its partitions (13 s after the kill). Every client here asks every few seconds
instead: a small request to a broker, a handful a second across the whole system.
"""
from __future__ import annotations

METADATA_MAX_AGE_MS = 5000
CLIENT_OPTIONS = {"metadata_max_age_ms": METADATA_MAX_AGE_MS}
