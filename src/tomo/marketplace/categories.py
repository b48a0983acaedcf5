"""One vocabulary of categories for every store.

Each store names its categories its own way (CasaOS "Developer", Runtipi
"development", Umbrel "developer"; "Network" and "networking"; "Utilities" and
"tools"). The store shows one list: each category below, with the words stores
use for it. The app page still says the store's own word when it differs. A
category no entry names is kept as the store wrote it. docs/categories.md lists
the table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    label: str  # as a person reads it
    words: tuple[str, ...]  # the stores' slugs that mean it (its own slug included)


VOCABULARY: dict[str, Category] = {
    "ai": Category("AI", ("ai", "artificial-intelligence", "machine-learning", "llm", "llms")),
    "automation": Category("Automation", ("automation", "workflow", "workflows")),
    "backup": Category("Backup", ("backup", "backups")),
    "books": Category("Books", ("books", "ebooks", "reading")),
    "crypto": Category("Bitcoin and crypto", (
        "crypto", "bitcoin", "lightning", "cryptocurrency", "blockchain", "nostr")),
    "data": Category("Databases", ("data", "database", "databases", "db")),
    "developer": Category("Developer tools", (
        "developer", "development", "developer-tools", "devtools", "dev", "coding",
        "programming")),
    "downloads": Category("Downloads", (
        "downloads", "download", "downloader", "downloaders", "torrent", "torrents", "usenet")),
    "finance": Category("Finance", ("finance", "money", "accounting", "budget")),
    "gaming": Category("Games", ("gaming", "games", "game", "game-server", "game-servers")),
    "home-automation": Category("Home automation", (
        "home-automation", "smart-home", "smarthome", "iot", "home")),
    "media": Category("Media", (
        "media", "video", "music", "audio", "entertainment", "streaming", "media-server")),
    "monitoring": Category("Monitoring", (
        "monitoring", "analytics", "observability", "metrics", "status")),
    "networking": Category("Networking", (
        "networking", "network", "vpn", "dns", "proxy", "reverse-proxy")),
    "photos": Category("Photos", ("photos", "photography", "gallery", "images", "pictures")),
    "productivity": Category("Productivity", (
        "productivity", "personal-management", "documents", "document", "notes", "office",
        "organization", "organisation", "tasks", "collaboration")),
    "security": Category("Security", (
        "security", "password", "passwords", "password-manager", "authentication", "auth",
        "privacy")),
    "social": Category("Social and chat", (
        "social", "chat", "communication", "messaging", "forum", "community")),
    "storage": Category("Files and storage", (
        "storage", "files", "file", "file-sync", "cloud", "file-management", "nas", "sync")),
    "tools": Category("Utilities and tools", ("tools", "utilities", "utility", "utils")),
    "web": Category("Websites and blogs", (
        "web", "website", "websites", "blog", "blogs", "cms", "search-engine", "search")),
}  # fmt: skip

_CANONICAL = {word: slug for slug, entry in VOCABULARY.items() for word in entry.words}


def canonical_category(slug: str) -> str:
    """The vocabulary's category for a store's slug (the slug itself if none names it)."""
    return _CANONICAL.get(slug, slug)


def category_label(slug: str | None) -> str:
    """A category as the store's sidebar shows it."""
    if not slug:
        return "Other"
    entry = VOCABULARY.get(slug)
    return entry.label if entry else slug.replace("-", " ").capitalize()
