"""The CLI against a remote tomo: `tomo login URL` stores a token, and from then on
every command's service calls go to that tomo's REST API.

    login_file   where the login is kept (light: read by every command)
    session      logging in (password -> API token) and out (the token revoked)
    transport    one HTTP client: requests, streams, problem details -> TomoError
    problems     problem details (RFC 9457) back into tomo's own error classes
    runtime      RemoteRuntime: .marketplace, .servers, .deployment, .auth, each
                 holding to the CLI's Protocol for it (tomo.cli.services)

Only `login_file` is imported by every command; the rest (httpx among it) loads
when a command runs while logged in.
"""
