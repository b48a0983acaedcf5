"""An app's data folder replaced whole, or not at all: what a restore does on the server.

A restore must never leave a folder half old, half restored. Each folder the app
mounts (a bind-mounted folder or a named volume, at path P in its container)
is replaced in three moves, each on the folder's own filesystem:

    stage   the restored tree is unpacked into P/.tomo-restore-JOB (the app is
            stopped; the data it had is untouched)
    swap    what P held moves into P/.tomo-previous-JOB, then the restored tree
            moves up into P, and P takes the restored folder's owner and mode:
            renames only, so it takes no time and needs no space
    drop    once every folder is swapped, the previous data goes

Until `drop`, `swap_back` puts each folder as it was (the restored entries out,
the previous ones back), which is what a failed or interrupted restore's
journal does (see journal.py). A folder mounted at P cannot itself be renamed
(it is a mount point), hence the moves of its entries.

The moves run in a short-lived helper container (`--volumes-from` the app's
container: it sees every mount at the same path, as root, with no network),
from a small image with a shell (settings.helper_image; tomo pulls it when the
server lacks it). Docker alone writes into a stopped container
(`docker container cp`), but it cannot move or delete.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Sequence

from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed

STAGING, PREVIOUS = ".tomo-restore-", ".tomo-previous-"

# "$1" is the action, "$2" the job, the rest the folders (mount points) it acts on,
# one after another. Entries are moved with `mv` one by one (dot files too, `.` and
# `..` never); nothing here follows a symlink out of a folder: only its own
# entries are named.
HELPER = r"""
set -u
action="$1"; job="$2"; shift 2
entries() { # the entries of folder "$1", but for tomo's own, NUL-separated
  find "$1" -mindepth 1 -maxdepth 1 ! -name ".tomo-restore-$job" \
    ! -name ".tomo-previous-$job*" -print0
}
move_all() { # every entry of "$1" into "$2"
  entries "$1" | xargs -0 -r sh -c 'd="$0"; for e; do mv -f -- "$e" "$d"/ || exit 1; done' "$2"
}
one() {
  p="$1"; stage="$p/.tomo-restore-$job"; previous="$p/.tomo-previous-$job"
  mode="$previous.mode"; moved="$previous.moved"
  case "$action" in
  space)  # free KiB on the folder's filesystem, and whether it is a folder
    [ -d "$p" ] && kind=dir || kind=file
    df -Pk "$p" | awk -v k="$kind" 'NR==2 {print $4, k}' ;;
  prepare)
    rm -rf -- "$stage" && mkdir -m 700 -- "$stage" ;;
  swap)  # the restored folder is in the stage under the folder's own name
    base="$stage/${p##*/}"
    [ -d "$base" ] || { echo "the restored folder $base is missing" >&2; return 1; }
    [ -e "$mode" ] || stat -c '%u:%g %a' "$p" > "$mode" || return 1
    mkdir -m 700 -p -- "$previous" || return 1
    move_all "$p" "$previous" || return 1
    : > "$moved" || return 1   # from here on, what the folder holds is the restored data
    move_all "$base" "$p" || return 1
    chown "$(stat -c %u:%g "$base")" "$p" && chmod "$(stat -c %a "$base")" "$p" || return 1
    rm -rf -- "$stage" ;;
  swap_back)
    if [ -e "$moved" ]; then entries "$p" | xargs -0 -r rm -rf -- || return 1; fi
    if [ -d "$previous" ]; then move_all "$previous" "$p" || return 1; fi
    if [ -f "$mode" ]; then
      read -r owner bits < "$mode"; chown "$owner" "$p"; chmod "$bits" "$p"
    fi
    rm -rf -- "$previous" "$moved" "$mode" "$stage" ;;
  drop)
    rm -rf -- "$previous" "$moved" "$mode" "$stage" ;;
  *) echo "unknown action $action" >&2; return 2 ;;
  esac
}
for folder; do one "$folder" || exit 1; done
"""


async def helper(docker: Docker, image: str, container: str, *args: str) -> str:
    """Run the helper script in a throwaway container that shares `container`'s mounts."""
    argv = ["container", "run", "--rm", "--network", "none", "--user", "0:0",
            "--volumes-from", container, "--entrypoint", "/bin/sh", "--label", "tomo.helper=1",
            image, "-c", HELPER, "tomo-restore", *args]  # fmt: skip
    return await docker.run(argv)


async def ensure_helper_image(docker: Docker, image: str) -> None:
    """Pull the helper image when the server does not have it yet."""
    try:
        await docker.run(["image", "inspect", "--format", "{{.Id}}", image])
    except CommandFailed:
        await docker.run(["image", "pull", "--quiet", image])


async def free_space(
    docker: Docker, image: str, container: str, paths: Sequence[str]
) -> dict[str, tuple[int, bool]]:
    """For each path (as the container mounts it): the bytes free on its filesystem,
    and whether it is a folder (a bind-mounted file is written in place instead)."""
    lines = (await helper(docker, image, container, "space", "-", *paths)).splitlines()
    found = {}
    for path, line in zip(paths, lines, strict=False):
        free, _, kind = line.partition(" ")
        if not free.isdigit():
            raise CommandFailed(docker.server, f"df {shlex.quote(path)}", 1, line)
        found[path] = (int(free) * 1024, kind == "dir")
    if len(found) != len(paths):
        raise CommandFailed(docker.server, "df " + shlex.join(paths), 1, "no answer for each")
    return found


def staging_dir(path: str, job: str) -> str:
    """Where a restored tree is unpacked before the swap (in the folder itself)."""
    return posixpath.join(path, STAGING + job)


async def prepare(
    docker: Docker, image: str, container: str, paths: Sequence[str], job: str
) -> None:
    """An empty stage in each folder (what an earlier attempt left there goes)."""
    await helper(docker, image, container, "prepare", job, *paths)


async def swap(docker: Docker, image: str, container: str, paths: Sequence[str], job: str) -> None:
    """The staged trees in place of the folders' content (the old kept aside)."""
    await helper(docker, image, container, "swap", job, *paths)


async def swap_back(docker: Docker, image: str, container: str, path: str, job: str) -> list[str]:
    """The folder as it was before the restore (nothing happens if it never moved)."""
    await helper(docker, image, container, "swap_back", job, path)
    return [f"put the data of {path} back as it was"]


async def drop_previous(
    docker: Docker, image: str, container: str, paths: Sequence[str], job: str
) -> None:
    """What the folders held before the restore, gone (it is done)."""
    await helper(docker, image, container, "drop", job, *paths)
