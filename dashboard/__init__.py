"""The brand's dashboard: Configuración > Integraciones > Webhooks, for a brand's own people.

A process of its own (`python -m dashboard [serve|migrate]`). It owns only its users, sessions, login
throttle and audit log; what the gateway owns (a tenant's settings and signing secrets) it reads and
changes through `dashboard.gateway_api.TenantAdmin`, never through the gateway's tables.
"""
