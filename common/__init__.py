"""What every process needs: configuration, logging, Postgres, gRPC plumbing, normalisation."""
