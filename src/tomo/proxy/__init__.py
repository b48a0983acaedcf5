"""The front door of a server: tomo's Caddy, reaching apps by name over HTTPS (issue 23).

routes.py  the model: routes from hostnames to app containers, the TLS mode; every
           bad value refused with the field it concerns
caddy.py   a FrontDoorConfig as Caddy's JSON config (a pure function)
door.py    the Caddy container, its network and volume on a server; a config
           applied whole or not at all; the internal CA's root certificate
service.py the config made whole from tomo's records and applied, one change at a
           time per server; the deployment's hook for hostnames at install and
           uninstall
api.py     its routes (schemas.py: what they send and receive)
"""
