"""tomo's own event list, and the notification channels each event is sent to.

kinds.py names every event tomo tells (a closed list); service.py records one
with one call and hands it to delivery.py, which sends it through Apprise off
the caller's path; api.py is the HTTP face.
"""
