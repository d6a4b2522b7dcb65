"""customer_service: owns the tenants' customers (the brands' buyers) and their database."""
