"""The gateway's internal administration API: a gRPC server (TenantAdminService) on the gateway's own
database and its side of the bus, for the brands' dashboard. It is the gateway's code (gateway.tenants,
gateway.refusals) run as a second process of the gateway, on the internal plane only: the public
webhook server never serves it."""
