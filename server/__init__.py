"""gRPC service: protobuf translation and operations (not built yet)."""
