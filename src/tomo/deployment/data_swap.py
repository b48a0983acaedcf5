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

from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed

STAGING, PREVIOUS = ".tomo-restore-", ".tomo-previous-"

# "$1" is the action, "$2" the folder P (a mount point), "$3" the job. Entries are
# moved with `mv` one by one (dot files too, `.` and `..` never); nothing here
# follows a symlink out of P: only P's own entries are named.
HELPER = r"""
set -u
action="$1"; p="$2"; job="$3"
stage="$p/.tomo-restore-$job"; previous="$p/.tomo-previous-$job"
mode="$previous.mode"; moved="$previous.moved"
entries() { # the entries of folder "$1", but for tomo's own, NUL-separated
  find "$1" -mindepth 1 -maxdepth 1 ! -name ".tomo-restore-$job" \
    ! -name ".tomo-previous-$job*" -print0
}
move_all() { # every entry of "$1" into "$2"
  entries "$1" | xargs -0 -r sh -c 'd="$0"; for e; do mv -f -- "$e" "$d"/ || exit 1; done' "$2"
}
case "$action" in
space)  # free KiB on P's filesystem, and whether P is a folder
  [ -d "$p" ] && kind=dir || kind=file
  df -Pk "$p" | awk -v k="$kind" 'NR==2 {print $4, k}' ;;
prepare)
  rm -rf -- "$stage" && mkdir -m 700 -- "$stage" ;;
swap)  # "$4": the restored folder's name in the stage
  base="$stage/$4"
  [ -d "$base" ] || { echo "the restored folder $base is missing" >&2; exit 1; }
  [ -e "$mode" ] || stat -c '%u:%g %a' "$p" > "$mode" || exit 1
  mkdir -m 700 -p -- "$previous" || exit 1
  move_all "$p" "$previous" || exit 1
  : > "$moved" || exit 1   # from here on, what P holds is the restored data
  move_all "$base" "$p" || exit 1
  chown "$(stat -c %u:%g "$base")" "$p" && chmod "$(stat -c %a "$base")" "$p" || exit 1
  rm -rf -- "$stage" ;;
swap_back)
  if [ -e "$moved" ]; then entries "$p" | xargs -0 -r rm -rf -- || exit 1; fi
  if [ -d "$previous" ]; then move_all "$previous" "$p" || exit 1; fi
  if [ -f "$mode" ]; then read -r owner bits < "$mode"; chown "$owner" "$p"; chmod "$bits" "$p"; fi
  rm -rf -- "$previous" "$moved" "$mode" "$stage" ;;
drop)
  rm -rf -- "$previous" "$moved" "$mode" "$stage" ;;
*) echo "unknown action $action" >&2; exit 2 ;;
esac
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


async def free_space(docker: Docker, image: str, container: str, path: str) -> tuple[int, bool]:
    """Bytes free on the filesystem of `path` (as the container mounts it), and
    whether it is a folder (a bind-mounted file is written in place instead)."""
    out = (await helper(docker, image, container, "space", path, "-")).split()
    if len(out) != 2 or not out[0].isdigit():
        raise CommandFailed(docker.server, f"df {shlex.quote(path)}", 1, " ".join(out))
    return int(out[0]) * 1024, out[1] == "dir"


def staging_dir(path: str, job: str) -> str:
    """Where a restored tree is unpacked before the swap (in the folder itself)."""
    return posixpath.join(path, STAGING + job)


async def prepare(docker: Docker, image: str, container: str, path: str, job: str) -> None:
    await helper(docker, image, container, "prepare", path, job)


async def swap(docker: Docker, image: str, container: str, path: str, job: str) -> None:
    """The staged tree in place of the folder's content (the old one kept aside)."""
    base = posixpath.basename(path.rstrip("/"))
    await helper(docker, image, container, "swap", path, job, base)


async def swap_back(docker: Docker, image: str, container: str, path: str, job: str) -> list[str]:
    """The folder as it was before the restore (nothing happens if it never moved)."""
    await helper(docker, image, container, "swap_back", path, job)
    return [f"put the data of {path} back as it was"]


async def drop_previous(docker: Docker, image: str, container: str, path: str, job: str) -> None:
    await helper(docker, image, container, "drop", path, job)
