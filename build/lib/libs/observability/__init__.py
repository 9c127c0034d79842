"""What an operator sees from outside: Prometheus metrics, OpenTelemetry traces, access logs."""
