"""identifier_service: owns the product identifiers (autentikapp codes) and their links to customers."""
