"""The domain: rule base, conditions, levels, planning, outsourcing. Knows nothing of gRPC."""
