"""What a homelab owner types, and the words catalogs use for it.

Someone who searches "password manager" wants Vaultwarden, whose description
says "Bitwarden-compatible server"; "ad blocking" should find AdGuard Home
("blocks ads and trackers") as well as Pi-hole. Each group below holds phrases
that mean the same thing to such a person, and the products that are such a
thing: a query holding one of the phrases matches an app holding any phrase or
product of the group (each word of a phrase as a prefix, in its word forms).

Kept small and concrete: a phrase too common in descriptions ("server",
"app") would make every search broad. docs/store-vocabulary.md lists the table.
"""

from __future__ import annotations

import functools

# (what people type, what else finds it): a query holding any phrase of the first
# holds every phrase of both; a query naming a product (the second) is left as it
# is, so that "jellyfin" finds Jellyfin, not every media server.
SYNONYMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("password manager", "password vault", "passwords"), ("bitwarden", "vaultwarden", "keepass")),
    (("ad blocking", "ad blocker", "adblock", "ad block", "ads", "dns sinkhole"),
     ("pi hole", "pihole", "adguard")),
    (("media server",), ("plex", "jellyfin", "emby")),
    (("photo", "photos", "pictures", "gallery"), ()),
    (("vpn",), ("wireguard", "openvpn", "tailscale", "zerotier")),
    (("reverse proxy", "proxy manager"), ("traefik", "caddy")),
    (("home automation", "smart home"), ("home assistant", "zigbee")),
    (("file sync", "file sharing", "cloud storage"), ("nextcloud", "syncthing", "seafile")),
    (("notes", "note taking", "wiki", "knowledge base"), ()),
    (("monitoring", "uptime", "status page", "observability"), ()),
    (("dashboard", "start page"), ("homarr", "heimdall")),
    (("torrent", "bittorrent"), ("qbittorrent", "transmission", "deluge")),
    (("recipes", "recipe manager", "meal planning", "cooking"), ()),
    (("ebook", "ebooks", "audiobooks"), ("calibre",)),
    (("git server", "code hosting"), ("gitea", "forgejo", "gitlab")),
    (("llm", "ai chat", "chatgpt", "language model"), ("ollama",)),
    (("backup", "backups", "snapshots"), ()),
    (("budget", "personal finance", "expenses"), ()),
    (("rss", "feed reader", "news reader", "feeds"), ()),
    (("chat", "messaging"), ("matrix",)),
    (("document management", "scanned documents"), ("paperless",)),
    (("2fa", "two factor", "totp"), ("authenticator",)),
    (("single sign on", "sso", "identity provider"), ("authelia", "authentik", "keycloak")),
)  # fmt: skip

LONGEST_PHRASE = max(len(phrase.split()) for typed, _ in SYNONYMS for phrase in typed)


@functools.cache
def _groups_by_phrase() -> dict[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """phrase people type (as words) -> every phrase and product of its group."""
    found: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
    for typed, products in SYNONYMS:
        phrases = tuple(tuple(phrase.split()) for phrase in (*typed, *products))
        for phrase in typed:
            found[tuple(phrase.split())] = phrases
    return found


def expand(terms: list[str]) -> list[list[list[str]]]:
    """The query's words as groups that must all match; each group's alternatives
    (any may match), each alternative's words (all must match). A phrase of the
    table (the longest one starting at a word) becomes its group's phrases; any
    other word is a group of itself."""
    groups: list[list[list[str]]] = []
    known = _groups_by_phrase()
    position = 0
    while position < len(terms):
        for length in range(min(LONGEST_PHRASE, len(terms) - position), 0, -1):
            phrase = tuple(terms[position : position + length])
            if phrase in known:
                groups.append([list(phrase), *[list(p) for p in known[phrase] if p != phrase]])
                position += length
                break
        else:
            groups.append([[terms[position]]])
            position += 1
    return groups
