"""The dashboard's pages, one blueprint per area: sign-in (auth) and Integraciones > Webhooks."""
