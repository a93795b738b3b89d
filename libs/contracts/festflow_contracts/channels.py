"""Names of the queues and topics the services talk over."""

# RabbitMQ: commands from the order service to the inventory service (durable queue, persistent messages)
# (a quorum queue: its name changed with its type, since RabbitMQ cannot change a queue's type in place)
ORDER_COMMANDS_QUEUE = "festflow.order-commands.v2"
# the dead letters: a quorum queue too, so that losing one node of a cluster loses neither it nor the
# command queue's declaration (a classic queue lives on one node, and declaring it fails while that is down)
ORDER_COMMANDS_DLQ = "festflow.order-commands.dead.v2"

# Kafka: domain events emitted by the inventory service, keyed by order id
ORDER_EVENTS_TOPIC = "festflow.order-events"
# Kafka: payments received by the payment service (a bank transfer matched, a card payment authorised),
# keyed by order id; the inventory turns the order's hold into a sale
PAYMENT_EVENTS_TOPIC = "festflow.payment-events"
# Kafka: ticket catalog changes (price, stock, new and retired types), keyed by ticket id
CATALOG_EVENTS_TOPIC = "festflow.catalog-events"
# Kafka: revoked tokens (logout), keyed by token id (`jti`); every app that verifies tokens reads it
AUTH_EVENTS_TOPIC = "festflow.auth-events"
# Kafka: what happens to accounts that needs a mail (sign-up, password reset), keyed by username; the
# links they carry are valid for a day at most, and so is the topic
ACCOUNT_EVENTS_TOPIC = "festflow.account-events"
# Kafka: tickets issued for confirmed orders and every change to one (holder, check-in, void), keyed by
# order id (one order's ticket events stay in order)
TICKET_EVENTS_TOPIC = "festflow.ticket-events"
# Kafka: structured log records from every service, for the admin's live logs
SYSTEM_LOGS_TOPIC = "festflow.system-logs"
