"""The gRPC service: servicers, configuration, logging, metrics, health, reload and shutdown."""
