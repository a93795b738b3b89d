"""FestFlow's local stack runner: real RabbitMQ, Kafka (KRaft), Nginx and every app, supervised."""
