"""tomo's web UI: server-rendered pages on the same services as the REST API.

    routes      every page router, wired in one place; the static files
    templating  the Jinja2 environment and `render` (what every page gets)
    session     who is looking (the session cookie), their role, CSRF on forms
    errors      errors as pages: a login where one is needed, else a page that
                says what went wrong (never a traceback, never raw JSON)
    forms       reading a form into a service's request, errors beside fields
    <feature>   pages of one feature: auth, store, install, installed, servers,
                repos, admin

Pages work with plain links and forms; static/tomo.js adds the live parts
(search as you type, job progress, status refresh) where a browser runs it.
"""
